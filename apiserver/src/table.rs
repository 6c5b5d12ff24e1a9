//! Server-side Table printing (`meta.k8s.io/v1` Table).
//!
//! When a client asks for `application/json;as=Table;v=v1;g=meta.k8s.io`,
//! kube-apiserver answers with a `Table` whose `columnDefinitions` and row
//! `cells` come from the printer registered for the resource. This module
//! reproduces those printers for the built-in kinds Ubernetes serves, the
//! default table convertor used by every other resource (`Name`,
//! `Created At`), and the convertor built from a CustomResourceDefinition's
//! `additionalPrinterColumns`.
//!
//! The server always prints in "wide" mode, so the cells include the
//! priority-1 columns too; clients hide those unless `-o wide` is asked for.
//!
//! Objects come straight from users, so every accessor here is lenient: a
//! missing or mistyped field falls back to the zero value the Go type would
//! have had, never a panic.

use std::borrow::Cow;

use jiff::Timestamp;
use serde_json::{Map, Value};

/// One column definition as serialized in `Table.columnDefinitions`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    /// Human readable column name, e.g. `Name`, `Age`, `Cluster-IP`.
    pub name: Cow<'static, str>,
    /// OpenAPI type of the column (`string`, `integer`, `boolean`, `number`, `date`).
    #[serde(rename = "type")]
    pub type_: Cow<'static, str>,
    /// OpenAPI format hint; `name` marks the column holding the object name.
    pub format: Cow<'static, str>,
    /// Human readable description of the column.
    pub description: Cow<'static, str>,
    /// 0 for columns always shown, higher for columns shown only in wide output.
    pub priority: i32,
}

/// The printer for a resource: its column definitions and how to turn one
/// object into the matching row cells.
#[derive(Clone, Debug)]
pub struct Printer {
    columns: Cow<'static, [Column]>,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Default,
    Pod,
    Node,
    Namespace,
    ConfigMap,
    Secret,
    Service,
    ServiceAccount,
    PersistentVolumeClaim,
    ResourceQuota,
    Event { events_api: bool },
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
    Ingress,
    IngressClass,
    NetworkPolicy,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    RoleBinding,
    StorageClass,
    PriorityClass,
    Lease,
    Custom(Vec<CustomColumn>),
}

#[derive(Clone, Debug)]
struct CustomColumn {
    type_: String,
    path: jsonpath::Path,
}

impl Printer {
    /// The printer kube-apiserver uses for `group`/`resource` (core group is
    /// `""`). Resources without a dedicated printer (roles, clusterroles,
    /// limitranges, customresourcedefinitions, anything unknown) get the
    /// default table: `Name` and `Created At`.
    pub fn for_resource(group: &str, resource: &str) -> Printer {
        let (columns, kind): (&'static [Column], Kind) = match (group, resource) {
            ("" | "core", "namespaces") => (&NAMESPACE_COLUMNS, Kind::Namespace),
            ("" | "core", "configmaps") => (&CONFIGMAP_COLUMNS, Kind::ConfigMap),
            ("" | "core", "secrets") => (&SECRET_COLUMNS, Kind::Secret),
            ("" | "core", "services") => (&SERVICE_COLUMNS, Kind::Service),
            ("" | "core", "serviceaccounts") => (&SERVICEACCOUNT_COLUMNS, Kind::ServiceAccount),
            ("" | "core", "persistentvolumeclaims") => (&PVC_COLUMNS, Kind::PersistentVolumeClaim),
            ("" | "core", "resourcequotas") => (&RESOURCEQUOTA_COLUMNS, Kind::ResourceQuota),
            ("" | "core", "events") => (&EVENT_COLUMNS, Kind::Event { events_api: false }),
            ("events.k8s.io", "events") => (&EVENT_COLUMNS, Kind::Event { events_api: true }),
            ("apps", "deployments") => (&DEPLOYMENT_COLUMNS, Kind::Deployment),
            ("apps", "statefulsets") => (&STATEFULSET_COLUMNS, Kind::StatefulSet),
            ("apps", "daemonsets") => (&DAEMONSET_COLUMNS, Kind::DaemonSet),
            ("apps", "replicasets") => (&REPLICASET_COLUMNS, Kind::ReplicaSet),
            ("batch", "jobs") => (&JOB_COLUMNS, Kind::Job),
            ("batch", "cronjobs") => (&CRONJOB_COLUMNS, Kind::CronJob),
            ("networking.k8s.io", "ingresses") => (&INGRESS_COLUMNS, Kind::Ingress),
            ("networking.k8s.io", "ingressclasses") => (&INGRESSCLASS_COLUMNS, Kind::IngressClass),
            ("networking.k8s.io", "networkpolicies") => (&NETWORKPOLICY_COLUMNS, Kind::NetworkPolicy),
            ("policy", "poddisruptionbudgets") => (&PDB_COLUMNS, Kind::PodDisruptionBudget),
            ("autoscaling", "horizontalpodautoscalers") => (&HPA_COLUMNS, Kind::HorizontalPodAutoscaler),
            ("rbac.authorization.k8s.io", "rolebindings") => (&ROLEBINDING_COLUMNS, Kind::RoleBinding),
            ("rbac.authorization.k8s.io", "clusterrolebindings") => (&CLUSTERROLEBINDING_COLUMNS, Kind::RoleBinding),
            ("storage.k8s.io", "storageclasses") => (&STORAGECLASS_COLUMNS, Kind::StorageClass),
            ("scheduling.k8s.io", "priorityclasses") => (&PRIORITYCLASS_COLUMNS, Kind::PriorityClass),
            ("coordination.k8s.io", "leases") => (&LEASE_COLUMNS, Kind::Lease),
            ("" | "core", "pods") => (&POD_COLUMNS, Kind::Pod),
            ("" | "core", "nodes") => (&NODE_COLUMNS, Kind::Node),
            _ => (&DEFAULT_COLUMNS, Kind::Default),
        };
        Printer {
            columns: Cow::Borrowed(columns),
            kind,
        }
    }

    /// Build a printer from a CRD version's `additionalPrinterColumns` (an
    /// array of `{name, type, format, description, priority, jsonPath}`).
    ///
    /// The `Name` column always comes first. Without columns the printer has
    /// `Name` and `Age` (the `.metadata.creationTimestamp` date column
    /// kube-apiserver adds). Like kube-apiserver, a column whose JSONPath does
    /// not parse ends the list: it and the columns after it are dropped.
    /// Column descriptions default to
    /// `Custom resource definition column (in JSONPath format): <path>`.
    pub fn from_printer_columns(cols: &Value) -> Printer {
        let defs: Vec<&Value> = cols.as_array().map(|a| a.iter().collect()).unwrap_or_default();
        let mut columns = vec![NAME_COLUMN];
        let mut custom = Vec::new();
        if defs.is_empty() {
            columns.push(Column {
                name: Cow::Borrowed("Age"),
                type_: Cow::Borrowed("date"),
                format: Cow::Borrowed(""),
                description: Cow::Borrowed(AGE_DESC),
                priority: 0,
            });
            if let Ok(path) = jsonpath::Path::parse(".metadata.creationTimestamp") {
                custom.push(CustomColumn {
                    type_: "date".to_owned(),
                    path,
                });
            }
        }
        for def in defs {
            let json_path = str_at(def, &["jsonPath"]);
            let Ok(path) = jsonpath::Path::parse(json_path) else {
                break;
            };
            let description = match str_at(def, &["description"]) {
                "" => {
                    format!("Custom resource definition column (in JSONPath format): {json_path}")
                }
                d => d.to_owned(),
            };
            let type_ = str_at(def, &["type"]).to_owned();
            let priority = int_at(def, &["priority"])
                .unwrap_or(0)
                .clamp(i64::from(i32::MIN), i64::from(i32::MAX));
            columns.push(Column {
                name: Cow::Owned(str_at(def, &["name"]).to_owned()),
                type_: Cow::Owned(type_.clone()),
                format: Cow::Owned(str_at(def, &["format"]).to_owned()),
                description: Cow::Owned(description),
                priority: i32::try_from(priority).unwrap_or(0),
            });
            custom.push(CustomColumn { type_, path });
        }
        Printer {
            columns: Cow::Owned(columns),
            kind: Kind::Custom(custom),
        }
    }

    /// The column definitions, in cell order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The cells of the row for one object (as stored, i.e. its JSON form);
    /// `now` is the reference time for ages. Always one cell per column.
    pub fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        match &self.kind {
            Kind::Default => default_cells(obj),
            Kind::Namespace => namespace_cells(obj, now),
            Kind::ConfigMap => configmap_cells(obj, now),
            Kind::Secret => secret_cells(obj, now),
            Kind::Service => service_cells(obj, now),
            Kind::ServiceAccount => serviceaccount_cells(obj, now),
            Kind::PersistentVolumeClaim => pvc_cells(obj, now),
            Kind::ResourceQuota => resourcequota_cells(obj, now),
            Kind::Event { events_api } => event_cells(obj, now, *events_api),
            Kind::Deployment => deployment_cells(obj, now),
            Kind::StatefulSet => statefulset_cells(obj, now),
            Kind::DaemonSet => daemonset_cells(obj, now),
            Kind::ReplicaSet => replicaset_cells(obj, now),
            Kind::Job => job_cells(obj, now),
            Kind::CronJob => cronjob_cells(obj, now),
            Kind::Ingress => ingress_cells(obj, now),
            Kind::IngressClass => ingressclass_cells(obj, now),
            Kind::NetworkPolicy => networkpolicy_cells(obj, now),
            Kind::PodDisruptionBudget => pdb_cells(obj, now),
            Kind::HorizontalPodAutoscaler => hpa_cells(obj, now),
            Kind::RoleBinding => rolebinding_cells(obj, now),
            Kind::StorageClass => storageclass_cells(obj, now),
            Kind::PriorityClass => priorityclass_cells(obj, now),
            Kind::Lease => lease_cells(obj, now),
            Kind::Pod => pod_cells(obj, now),
            Kind::Node => node_cells(obj, now),
            Kind::Custom(cols) => custom_cells(cols, obj, now),
        }
    }
}

/// kube's `duration.HumanDuration` formatting, used for every age cell:
/// seconds below 2 minutes ("5s", "119s"), then minutes with seconds below
/// 10 minutes ("3m2s"), minutes below 3 hours, hours with minutes below 8
/// hours, hours below 2 days, days with hours below 8 days ("2d3h"), days
/// below 2 years, years with days below 8 years ("2y5d"), then years
/// ("10y"). Durations beyond Go's `time.Duration` range saturate at 292y.
pub fn human_duration(d: std::time::Duration) -> String {
    human_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------
// Column definitions
// ---------------------------------------------------------------------------

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const CONTAINERS_DESC: &str = "Names of each container in the template.";
const IMAGES_DESC: &str = "Images referenced by each container in the template.";
const READY_DESC: &str = "Number of the pod with ready state";

const fn column(name: &'static str, type_: &'static str, description: &'static str, priority: i32) -> Column {
    Column {
        name: Cow::Borrowed(name),
        type_: Cow::Borrowed(type_),
        format: Cow::Borrowed(""),
        description: Cow::Borrowed(description),
        priority,
    }
}

const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    column(name, type_, description, 0)
}

const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    column(name, type_, description, 1)
}

const NAME_COLUMN: Column = Column {
    name: Cow::Borrowed("Name"),
    type_: Cow::Borrowed("string"),
    format: Cow::Borrowed("name"),
    description: Cow::Borrowed(NAME_DESC),
    priority: 0,
};
const AGE_COLUMN: Column = col("Age", "string", AGE_DESC);
const CONTAINERS_COLUMN: Column = wide("Containers", "string", CONTAINERS_DESC);
const IMAGES_COLUMN: Column = wide("Images", "string", IMAGES_DESC);

static DEFAULT_COLUMNS: [Column; 2] = [NAME_COLUMN, col("Created At", "date", AGE_DESC)];

static NAMESPACE_COLUMNS: [Column; 3] = [
    NAME_COLUMN,
    col("Status", "string", "The status of the namespace"),
    AGE_COLUMN,
];

static CONFIGMAP_COLUMNS: [Column; 3] = [
    NAME_COLUMN,
    col(
        "Data",
        "string",
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
    ),
    AGE_COLUMN,
];

static SECRET_COLUMNS: [Column; 4] = [
    NAME_COLUMN,
    col(
        "Type",
        "string",
        "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
    ),
    col(
        "Data",
        "string",
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
    ),
    AGE_COLUMN,
];

static SERVICE_COLUMNS: [Column; 7] = [
    NAME_COLUMN,
    col(
        "Type",
        "string",
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types",
    ),
    col(
        "Cluster-IP",
        "string",
        "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    ),
    col(
        "External-IP",
        "string",
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.",
    ),
    col(
        "Port(s)",
        "string",
        "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    ),
    AGE_COLUMN,
    wide(
        "Selector",
        "string",
        "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
    ),
];

static SERVICEACCOUNT_COLUMNS: [Column; 3] = [
    NAME_COLUMN,
    col(
        "Secrets",
        "string",
        "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret",
    ),
    AGE_COLUMN,
];

static PVC_COLUMNS: [Column; 9] = [
    NAME_COLUMN,
    col(
        "Status",
        "string",
        "phase represents the current phase of PersistentVolumeClaim.",
    ),
    col(
        "Volume",
        "string",
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    col(
        "Capacity",
        "string",
        "capacity represents the actual resources of the underlying volume.",
    ),
    col(
        "Access Modes",
        "string",
        "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
    ),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE_COLUMN,
    wide(
        "VolumeMode",
        "string",
        "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
    ),
];

static RESOURCEQUOTA_COLUMNS: [Column; 4] = [
    NAME_COLUMN,
    col(
        "Request",
        "string",
        "Request represents a minimum amount of cpu/memory that a container may consume.",
    ),
    col(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
    AGE_COLUMN,
];

static EVENT_COLUMNS: [Column; 10] = [
    col(
        "Last Seen",
        "string",
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    col(
        "Type",
        "string",
        "Type of this event (Normal, Warning), new types could be added in the future",
    ),
    col(
        "Reason",
        "string",
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    col("Object", "string", "The object that this event is about."),
    wide(
        "Subobject",
        "string",
        "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
    ),
    wide(
        "Source",
        "string",
        "The component reporting this event. Should be a short machine understandable string.",
    ),
    col(
        "Message",
        "string",
        "A human-readable description of the status of this operation.",
    ),
    wide(
        "First Seen",
        "string",
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
    ),
    wide("Count", "string", "The number of times this event has occurred."),
    Column {
        name: Cow::Borrowed("Name"),
        type_: Cow::Borrowed("string"),
        format: Cow::Borrowed("name"),
        description: Cow::Borrowed(NAME_DESC),
        priority: 1,
    },
];

static DEPLOYMENT_COLUMNS: [Column; 8] = [
    NAME_COLUMN,
    col("Ready", "string", READY_DESC),
    col(
        "Up-to-date",
        "string",
        "Total number of non-terminating pods targeted by this deployment that have the desired template spec.",
    ),
    col(
        "Available",
        "string",
        "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.",
    ),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide(
        "Selector",
        "string",
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.",
    ),
];

static STATEFULSET_COLUMNS: [Column; 5] = [
    NAME_COLUMN,
    col("Ready", "string", READY_DESC),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
];

static DAEMONSET_COLUMNS: [Column; 11] = [
    NAME_COLUMN,
    col(
        "Desired",
        "integer",
        "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    ),
    col(
        "Current",
        "integer",
        "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    ),
    col(
        "Ready",
        "integer",
        "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
    ),
    col(
        "Up-to-date",
        "integer",
        "The total number of nodes that are running updated daemon pod",
    ),
    col(
        "Available",
        "integer",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
    ),
    col(
        "Node Selector",
        "string",
        "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
    ),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide(
        "Selector",
        "string",
        "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];

static REPLICASET_COLUMNS: [Column; 8] = [
    NAME_COLUMN,
    col(
        "Desired",
        "integer",
        "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
    ),
    col(
        "Current",
        "integer",
        "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
    ),
    col(
        "Ready",
        "integer",
        "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
    ),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide(
        "Selector",
        "string",
        "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];

const JOB_SELECTOR_DESC: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

static JOB_COLUMNS: [Column; 8] = [
    NAME_COLUMN,
    col("Status", "string", "Status of the job."),
    col(
        "Completions",
        "string",
        "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
    ),
    col("Duration", "string", "Time required to complete the job."),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", JOB_SELECTOR_DESC),
];

static CRONJOB_COLUMNS: [Column; 10] = [
    NAME_COLUMN,
    col(
        "Schedule",
        "string",
        "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    ),
    col(
        "Timezone",
        "string",
        "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
    ),
    col(
        "Suspend",
        "boolean",
        "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
    ),
    col("Active", "integer", "A list of pointers to currently running jobs."),
    col(
        "Last Schedule",
        "string",
        "Information when was the last time the job was successfully scheduled.",
    ),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", JOB_SELECTOR_DESC),
];

static INGRESS_COLUMNS: [Column; 6] = [
    NAME_COLUMN,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE_COLUMN,
];

static INGRESSCLASS_COLUMNS: [Column; 4] = [
    NAME_COLUMN,
    col(
        "Controller",
        "string",
        "Controller that is responsible for handling this class",
    ),
    col(
        "Parameters",
        "string",
        "A reference to a resource with additional parameters",
    ),
    AGE_COLUMN,
];

static NETWORKPOLICY_COLUMNS: [Column; 3] = [
    NAME_COLUMN,
    col(
        "Pod-Selector",
        "string",
        "podSelector selects the pods to which this NetworkPolicy object applies. The array of rules is applied to any pods selected by this field. An empty selector matches all pods in the policy's namespace. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is optional. If it is not specified, it defaults to an empty selector.",
    ),
    AGE_COLUMN,
];

static PDB_COLUMNS: [Column; 5] = [
    NAME_COLUMN,
    col(
        "Min Available",
        "string",
        "The minimum number of pods that must be available.",
    ),
    col(
        "Max Unavailable",
        "string",
        "The maximum number of pods that may be unavailable.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE_COLUMN,
];

static HPA_COLUMNS: [Column; 7] = [
    NAME_COLUMN,
    col(
        "Reference",
        "string",
        "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
    ),
    col(
        "Targets",
        "string",
        "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond. If not set, the default metric will be set to 80% average CPU utilization.",
    ),
    col(
        "MinPods",
        "string",
        "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.",
    ),
    col(
        "MaxPods",
        "string",
        "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.",
    ),
    col(
        "Replicas",
        "string",
        "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
    ),
    AGE_COLUMN,
];

static ROLEBINDING_COLUMNS: [Column; 6] = [
    NAME_COLUMN,
    col(
        "Role",
        "string",
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
    ),
    AGE_COLUMN,
    wide("Users", "string", "Users in the roleBinding"),
    wide("Groups", "string", "Groups in the roleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
];

static CLUSTERROLEBINDING_COLUMNS: [Column; 6] = [
    NAME_COLUMN,
    col(
        "Role",
        "string",
        "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
    ),
    AGE_COLUMN,
    wide("Users", "string", "Users in the clusterRoleBinding"),
    wide("Groups", "string", "Groups in the clusterRoleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
];

static STORAGECLASS_COLUMNS: [Column; 6] = [
    NAME_COLUMN,
    col(
        "Provisioner",
        "string",
        "provisioner indicates the type of the provisioner.",
    ),
    col(
        "ReclaimPolicy",
        "string",
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
    ),
    col(
        "VolumeBindingMode",
        "string",
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.",
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE_COLUMN,
];

static PRIORITYCLASS_COLUMNS: [Column; 5] = [
    NAME_COLUMN,
    col(
        "Value",
        "integer",
        "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
    ),
    col(
        "Global-Default",
        "boolean",
        "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.",
    ),
    AGE_COLUMN,
    col(
        "PreemptionPolicy",
        "string",
        "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
    ),
];

static POD_COLUMNS: [Column; 9] = [
    NAME_COLUMN,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE_COLUMN,
    wide(
        "IP",
        "string",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    ),
    wide(
        "Node",
        "string",
        "NodeName is a request to schedule this pod onto a specific node.",
    ),
    wide(
        "Nominated Node",
        "string",
        "nominatedNodeName is set only when this pod preempts other pods on the node.",
    ),
    wide(
        "Readiness Gates",
        "string",
        "If specified, all readiness gates will be evaluated for pod readiness.",
    ),
];

static NODE_COLUMNS: [Column; 10] = [
    NAME_COLUMN,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE_COLUMN,
    col("Version", "string", "Kubelet Version reported by the node."),
    wide(
        "Internal-IP",
        "string",
        "List of addresses reachable to the node. Queried from cloud provider, if available.",
    ),
    wide(
        "External-IP",
        "string",
        "List of addresses reachable to the node. Queried from cloud provider, if available.",
    ),
    wide(
        "OS-Image",
        "string",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    ),
    wide(
        "Kernel-Version",
        "string",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    ),
    wide(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    ),
];

static LEASE_COLUMNS: [Column; 3] = [
    NAME_COLUMN,
    col(
        "Holder",
        "string",
        "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.",
    ),
    AGE_COLUMN,
];

// ---------------------------------------------------------------------------
// JSON access helpers
// ---------------------------------------------------------------------------

/// The value at `path`; a JSON `null` counts as absent.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.as_object()?.get(*key)?;
    }
    if cur.is_null() { None } else { Some(cur) }
}

fn opt_at<'a>(v: Option<&'a Value>, path: &[&str]) -> Option<&'a Value> {
    v.and_then(|v| at(v, path))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

fn as_int(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    if v.as_u64().is_some() {
        return Some(i64::MAX);
    }
    // Float-to-int casts saturate in Rust, which is the sane reading of an
    // out-of-range Go conversion.
    v.as_f64().map(|f| f as i64)
}

fn int_at(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path).and_then(as_int)
}

fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn map_len(v: &Value, path: &[&str]) -> i64 {
    let len = at(v, path).and_then(Value::as_object).map_or(0, Map::len);
    i64::try_from(len).unwrap_or(i64::MAX)
}

fn name(obj: &Value) -> Value {
    Value::from(str_at(obj, &["metadata", "name"]))
}

fn has(v: &Value, path: &[&str]) -> bool {
    at(v, path).is_some()
}

/// Parse a `metav1.Time`/`MicroTime`; missing, unparseable and Go's zero
/// time (`0001-01-01T00:00:00Z`) all count as "zero".
fn parse_time(v: Option<&Value>) -> Option<Timestamp> {
    let ts: Timestamp = v?.as_str()?.parse().ok()?;
    if is_go_zero(ts) { None } else { Some(ts) }
}

/// Whether `ts` is Go's zero `time.Time` (`0001-01-01T00:00:00Z`).
fn is_go_zero(ts: Timestamp) -> bool {
    ts.as_second() == GO_ZERO_TIME_SECONDS && ts.subsec_nanosecond() == 0
}

/// Seconds since the Unix epoch of Go's zero `time.Time`.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

fn nanos_between(from: Timestamp, to: Timestamp) -> i64 {
    let d = to.as_nanosecond() - from.as_nanosecond();
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

/// `translateTimestampSince`: the age of a timestamp, `<unknown>` if unset.
fn since(v: Option<&Value>, now: Timestamp) -> String {
    match parse_time(v) {
        Some(t) => human_nanos(nanos_between(t, now)),
        None => "<unknown>".to_owned(),
    }
}

fn age(obj: &Value, now: Timestamp) -> Value {
    Value::from(since(at(obj, &["metadata", "creationTimestamp"]), now))
}

/// Go's `HumanDuration` on a (possibly negative) nanosecond count.
fn human_nanos(d: i64) -> String {
    const SECOND: i64 = 1_000_000_000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;
    let seconds = d / SECOND;
    if seconds < -1 {
        return "<invalid>".to_owned();
    } else if seconds < 0 {
        return "0s".to_owned();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d / MINUTE;
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d / HOUR;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{h}h", hours / 24);
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{dy}d", hours / 24 / 365);
    }
    format!("{}y", hours / 24 / 365)
}

/// `time.Time.UTC().Format(time.RFC3339)`, as the default convertor prints
/// `Created At`; an unset timestamp prints as Go's zero time.
fn rfc3339(v: Option<&Value>) -> String {
    let Some(ts) = parse_time(v) else {
        return "0001-01-01T00:00:00Z".to_owned();
    };
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// `layoutContainerCells`: comma separated container names and images.
fn containers(obj: &Value, path: &[&str]) -> (Value, Value) {
    let list = arr_at(obj, path);
    let names: Vec<&str> = list.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = list.iter().map(|c| str_at(c, &["image"])).collect();
    (Value::from(names.join(",")), Value::from(images.join(",")))
}

/// `labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty.
fn format_labels(v: Option<&Value>) -> String {
    let mut pairs: Vec<String> = v
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".to_owned()
    } else {
        pairs.join(",")
    }
}

/// `metav1.LabelSelectorAsSelector(sel).String()`: `Ok(None)` for a nil
/// selector (selects nothing), `Ok("")` for an empty one (selects
/// everything), `Err` for an invalid one.
fn selector_string(sel: Option<&Value>) -> Result<Option<String>, ()> {
    let Some(sel) = sel else {
        return Ok(None);
    };
    let sel = sel.as_object().ok_or(())?;
    let empty = Map::new();
    let match_labels = match sel.get("matchLabels") {
        None | Some(Value::Null) => &empty,
        Some(v) => v.as_object().ok_or(())?,
    };
    let match_expressions: &[Value] = match sel.get("matchExpressions") {
        None | Some(Value::Null) => &[],
        Some(v) => v.as_array().ok_or(())?,
    };
    if match_labels.is_empty() && match_expressions.is_empty() {
        return Ok(Some(String::new()));
    }
    let mut requirements: Vec<(&str, String)> = Vec::new();
    for (key, value) in match_labels {
        let value = value.as_str().ok_or(())?;
        if !is_qualified_name(key) || !is_label_value(value) {
            return Err(());
        }
        requirements.push((key, format!("{key}={value}")));
    }
    for expr in match_expressions {
        let key = at(expr, &["key"]).and_then(Value::as_str).unwrap_or("");
        let operator = str_at(expr, &["operator"]);
        let mut values = Vec::new();
        for v in arr_at(expr, &["values"]) {
            values.push(v.as_str().ok_or(())?);
        }
        if !is_qualified_name(key) || !values.iter().all(|v| is_label_value(v)) {
            return Err(());
        }
        values.sort_unstable();
        let rendered = match operator {
            "In" | "NotIn" if !values.is_empty() => {
                let word = if operator == "In" { "in" } else { "notin" };
                format!("{key} {word} ({})", values.join(","))
            }
            "Exists" if values.is_empty() => key.to_owned(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        requirements.push((key, rendered));
    }
    requirements.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = requirements.into_iter().map(|(_, r)| r).collect();
    Ok(Some(parts.join(",")))
}

/// `metav1.FormatLabelSelector`: `<none>` when empty or nil, `<error>` when invalid.
fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Ok(Some(s)) if !s.is_empty() => s,
        Ok(_) => "<none>".to_owned(),
        Err(()) => "<error>".to_owned(),
    }
}

fn is_label_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
                && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

fn is_qualified_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [name] => is_label_name_part(name),
        [prefix, name] => !prefix.is_empty() && is_dns1123_subdomain(prefix) && is_label_name_part(name),
        _ => false,
    }
}

fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name_part(s)
}

/// `intstr.IntOrString.String()`.
fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => as_int(other).unwrap_or(0).to_string(),
    }
}

// ---------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------

/// `resource.Quantity.String()` of a JSON quantity (canonical form, e.g.
/// `1536Mi` for `1.5Gi`, `500m` for `0.5`); unparseable input is returned
/// as written.
fn quantity(v: &Value) -> String {
    let raw = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    canonical_quantity(&raw).unwrap_or(raw)
}

/// Like [`quantity`] for an optional Go `*resource.Quantity`: `<nil>` if unset.
fn quantity_or_nil(v: Option<&Value>) -> String {
    v.map_or_else(|| "<nil>".to_owned(), quantity)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum QuantityFormat {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

const NANO: i128 = 1_000_000_000;

fn canonical_quantity(s: &str) -> Option<String> {
    let s = s.trim();
    let b = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(&c) = b.first()
        && (c == b'+' || c == b'-')
    {
        negative = c == b'-';
        i = 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_part = &s[int_start..i];
    let mut frac_part = "";
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_part = &s[frac_start..i];
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let suffix = &s[i..];
    let (exp2, exp10, format): (u32, i32, QuantityFormat) = match suffix {
        "" => (0, 0, QuantityFormat::DecimalSi),
        "n" => (0, -9, QuantityFormat::DecimalSi),
        "u" => (0, -6, QuantityFormat::DecimalSi),
        "m" => (0, -3, QuantityFormat::DecimalSi),
        "k" => (0, 3, QuantityFormat::DecimalSi),
        "M" => (0, 6, QuantityFormat::DecimalSi),
        "G" => (0, 9, QuantityFormat::DecimalSi),
        "T" => (0, 12, QuantityFormat::DecimalSi),
        "P" => (0, 15, QuantityFormat::DecimalSi),
        "E" => (0, 18, QuantityFormat::DecimalSi),
        "Ki" => (10, 0, QuantityFormat::BinarySi),
        "Mi" => (20, 0, QuantityFormat::BinarySi),
        "Gi" => (30, 0, QuantityFormat::BinarySi),
        "Ti" => (40, 0, QuantityFormat::BinarySi),
        "Pi" => (50, 0, QuantityFormat::BinarySi),
        "Ei" => (60, 0, QuantityFormat::BinarySi),
        _ => {
            let rest = suffix.strip_prefix('e').or_else(|| suffix.strip_prefix('E'))?;
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let e: i32 = rest.parse().ok()?;
            (0, e, QuantityFormat::DecimalExponent)
        }
    };
    // mantissa * 2^exp2 * 10^(exp10 - scale) units, held in nano-units.
    let mut mantissa: i128 = 0;
    for c in int_part.bytes().chain(frac_part.bytes()) {
        mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    mantissa = mantissa.checked_mul(1i128.checked_shl(exp2)?)?;
    let scale = i32::try_from(frac_part.len()).ok()?;
    let pow = exp10.checked_sub(scale)?.checked_add(9)?;
    let mut nanos = if pow >= 0 {
        mantissa.checked_mul(10i128.checked_pow(u32::try_from(pow).ok()?)?)?
    } else {
        let div = 10i128.checked_pow(u32::try_from(-pow).ok()?).unwrap_or(i128::MAX);
        // Anything finer than a nano rounds up, away from zero.
        let q = mantissa / div;
        if mantissa % div == 0 { q } else { q + 1 }
    };
    if negative {
        nanos = -nanos;
    }
    if nanos == 0 {
        return Some("0".to_owned());
    }
    let mut format = format;
    if format == QuantityFormat::BinarySi && (nanos.abs() < 1024 * NANO || nanos % NANO != 0) {
        format = QuantityFormat::DecimalSi;
    }
    if format == QuantityFormat::BinarySi {
        let mut value = nanos / NANO;
        let mut exponent = 0usize;
        while exponent < 6 && value % 1024 == 0 {
            value /= 1024;
            exponent += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
        return Some(format!("{value}{suffix}"));
    }
    let mut value = nanos;
    let mut exponent: i32 = -9;
    while value.abs() >= 10 && value % 10 == 0 {
        value /= 10;
        exponent += 1;
    }
    while exponent % 3 != 0 {
        value = value.checked_mul(10)?;
        exponent -= 1;
    }
    if format == QuantityFormat::DecimalExponent {
        return Some(if exponent == 0 {
            value.to_string()
        } else {
            format!("{value}e{exponent}")
        });
    }
    while exponent > 18 {
        value = value.checked_mul(1000)?;
        exponent -= 3;
    }
    let suffix = match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => "",
    };
    Some(format!("{value}{suffix}"))
}

// ---------------------------------------------------------------------------
// Per-kind cells
// ---------------------------------------------------------------------------

fn default_cells(obj: &Value) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(rfc3339(at(obj, &["metadata", "creationTimestamp"]))),
    ]
}

fn namespace_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(obj), Value::from(str_at(obj, &["status", "phase"])), age(obj, now)]
}

fn configmap_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let data = map_len(obj, &["data"]).saturating_add(map_len(obj, &["binaryData"]));
    vec![name(obj), Value::from(data), age(obj, now)]
}

fn secret_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(str_at(obj, &["type"])),
        Value::from(map_len(obj, &["data"])),
        age(obj, now),
    ]
}

fn serviceaccount_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let secrets = i64::try_from(arr_at(obj, &["secrets"]).len()).unwrap_or(i64::MAX);
    vec![name(obj), Value::from(secrets), age(obj, now)]
}

/// `loadBalancerStatusStringer` in wide mode: the sorted, de-duplicated IPs
/// (or hostnames) of the load-balancer ingress points.
fn load_balancer_ingress(obj: &Value, path: &[&str]) -> String {
    let mut points: Vec<&str> = arr_at(obj, path)
        .iter()
        .filter_map(|i| match (str_at(i, &["ip"]), str_at(i, &["hostname"])) {
            ("", "") => None,
            ("", host) => Some(host),
            (ip, _) => Some(ip),
        })
        .collect();
    points.sort_unstable();
    points.dedup();
    points.join(",")
}

fn service_external_ip(obj: &Value, svc_type: &str) -> String {
    let external_ips: Vec<&str> = arr_at(obj, &["spec", "externalIPs"])
        .iter()
        .map(|v| v.as_str().unwrap_or(""))
        .collect();
    match svc_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_owned()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(obj, &["status", "loadBalancer", "ingress"]);
            if !external_ips.is_empty() {
                let mut results: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    results.extend(lb.split(','));
                }
                results.extend(external_ips);
                results.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_owned()
            }
        }
        "ExternalName" => str_at(obj, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

fn service_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    // The API server defaults type to ClusterIP and port protocols to TCP.
    let svc_type = match str_at(obj, &["spec", "type"]) {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = arr_at(obj, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .or_else(|| Some(str_at(obj, &["spec", "clusterIP"])).filter(|s| !s.is_empty()))
        .unwrap_or("<none>");
    let ports: Vec<String> = arr_at(obj, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]).unwrap_or(0);
            let protocol = match str_at(p, &["protocol"]) {
                "" => "TCP",
                proto => proto,
            };
            match int_at(p, &["nodePort"]).unwrap_or(0) {
                node_port if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    };
    vec![
        name(obj),
        Value::from(svc_type),
        Value::from(cluster_ip),
        Value::from(service_external_ip(obj, svc_type)),
        Value::from(ports),
        age(obj, now),
        Value::from(format_labels(at(obj, &["spec", "selector"]))),
    ]
}

/// `helper.GetAccessModesAsString`.
fn access_modes(modes: &[Value]) -> String {
    let has_mode = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if has_mode(mode) {
            out.push(short);
        }
    }
    out.join(",")
}

fn pvc_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if has(obj, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else {
        str_at(obj, &["status", "phase"])
    };
    let volume_name = str_at(obj, &["spec", "volumeName"]);
    let (capacity, modes) = if volume_name.is_empty() {
        (String::new(), String::new())
    } else {
        (
            at(obj, &["status", "capacity", "storage"]).map_or_else(|| "0".to_owned(), quantity),
            access_modes(arr_at(obj, &["status", "accessModes"])),
        )
    };
    let class = at(
        obj,
        &["metadata", "annotations", "volume.beta.kubernetes.io/storage-class"],
    )
    .and_then(Value::as_str)
    .unwrap_or_else(|| str_at(obj, &["spec", "storageClassName"]));
    let unset_or = |path: &[&str]| match at(obj, path).and_then(Value::as_str) {
        Some(v) => v.to_owned(),
        None => "<unset>".to_owned(),
    };
    vec![
        name(obj),
        Value::from(phase),
        Value::from(volume_name),
        Value::from(capacity),
        Value::from(modes),
        Value::from(class),
        Value::from(unset_or(&["spec", "volumeAttributesClassName"])),
        age(obj, now),
        Value::from(unset_or(&["spec", "volumeMode"])),
    ]
}

fn resourcequota_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let mut resources: Vec<(&String, &Value)> = at(obj, &["status", "hard"])
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    resources.sort_by(|a, b| a.0.cmp(b.0));
    let used = at(obj, &["status", "used"]).and_then(Value::as_object);
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for (resource, hard) in resources {
        let used = used
            .and_then(|u| u.get(resource.as_str()))
            .filter(|v| !v.is_null())
            .map_or_else(|| "0".to_owned(), quantity);
        let entry = format!("{resource}: {used}/{}", quantity(hard));
        let mut pieces = resource.split('.');
        let is_limit = pieces.next() == Some("limits") && pieces.next().is_some();
        if is_limit {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    vec![
        name(obj),
        Value::from(requests.join(", ")),
        Value::from(limits.join(", ")),
        age(obj, now),
    ]
}

fn event_cells(obj: &Value, now: Timestamp, events_api: bool) -> Vec<Value> {
    // events.k8s.io/v1 renames the core/v1 fields; the server prints both
    // through the same (core) printer.
    let field = |core: &'static str, events: &'static str| if events_api { events } else { core };
    let first_ts = at(obj, &[field("firstTimestamp", "deprecatedFirstTimestamp")]);
    let last_ts = at(obj, &[field("lastTimestamp", "deprecatedLastTimestamp")]);
    let source = at(obj, &[field("source", "deprecatedSource")]);
    let involved = at(obj, &[field("involvedObject", "regarding")]);
    let message = str_at(obj, &[field("message", "note")]);

    let first = if parse_time(first_ts).is_some() {
        since(first_ts, now)
    } else {
        since(at(obj, &["eventTime"]), now)
    };
    let mut last = if parse_time(last_ts).is_some() {
        since(last_ts, now)
    } else {
        first.clone()
    };
    let mut count = int_at(obj, &[field("count", "deprecatedCount")]).unwrap_or(0);
    if let Some(series) = at(obj, &["series"]) {
        last = since(at(series, &["lastObservedTime"]), now);
        count = int_at(series, &["count"]).unwrap_or(0);
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }
    let kind = opt_at(involved, &["kind"])
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    let target = match opt_at(involved, &["name"]).and_then(Value::as_str) {
        Some(n) if !n.is_empty() => format!("{kind}/{n}"),
        _ => kind,
    };
    let component = first_non_empty(
        opt_at(source, &["component"]).and_then(Value::as_str).unwrap_or(""),
        str_at(obj, &["reportingController"]),
    );
    let instance = first_non_empty(
        opt_at(source, &["host"]).and_then(Value::as_str).unwrap_or(""),
        str_at(obj, &["reportingInstance"]),
    );
    let source = if instance.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        Value::from(last),
        Value::from(str_at(obj, &["type"])),
        Value::from(str_at(obj, &["reason"])),
        Value::from(target),
        Value::from(opt_at(involved, &["fieldPath"]).and_then(Value::as_str).unwrap_or("")),
        Value::from(source),
        Value::from(message.trim()),
        Value::from(first),
        Value::from(count),
        name(obj),
    ]
}

fn deployment_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let desired = int_at(obj, &["spec", "replicas"]).unwrap_or(1);
    let ready = int_at(obj, &["status", "readyReplicas"]).unwrap_or(0);
    let updated = int_at(obj, &["status", "updatedReplicas"]).unwrap_or(0);
    let available = int_at(obj, &["status", "availableReplicas"]).unwrap_or(0);
    let (names, images) = containers(obj, &["spec", "template", "spec", "containers"]);
    let selector = match selector_string(at(obj, &["spec", "selector"])) {
        Ok(s) => s.unwrap_or_default(),
        Err(()) => "<invalid>".to_owned(),
    };
    vec![
        name(obj),
        Value::from(format!("{ready}/{desired}")),
        Value::from(updated),
        Value::from(available),
        age(obj, now),
        names,
        images,
        Value::from(selector),
    ]
}

fn statefulset_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let desired = int_at(obj, &["spec", "replicas"]).unwrap_or(1);
    let ready = int_at(obj, &["status", "readyReplicas"]).unwrap_or(0);
    let (names, images) = containers(obj, &["spec", "template", "spec", "containers"]);
    vec![
        name(obj),
        Value::from(format!("{ready}/{desired}")),
        age(obj, now),
        names,
        images,
    ]
}

fn daemonset_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let status = |field: &str| Value::from(int_at(obj, &["status", field]).unwrap_or(0));
    let (names, images) = containers(obj, &["spec", "template", "spec", "containers"]);
    vec![
        name(obj),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        Value::from(format_labels(at(obj, &["spec", "template", "spec", "nodeSelector"]))),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(at(obj, &["spec", "selector"]))),
    ]
}

fn replicaset_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(obj, &["spec", "template", "spec", "containers"]);
    vec![
        name(obj),
        Value::from(int_at(obj, &["spec", "replicas"]).unwrap_or(1)),
        Value::from(int_at(obj, &["status", "replicas"]).unwrap_or(0)),
        Value::from(int_at(obj, &["status", "readyReplicas"]).unwrap_or(0)),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(at(obj, &["spec", "selector"]))),
    ]
}

/// `firstNonEmpty` of two strings.
fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// `hasJobCondition`: the status of the first condition of that type is True.
fn has_condition(obj: &Value, condition: &str) -> bool {
    arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == condition)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn job_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int_at(obj, &["status", "succeeded"]).unwrap_or(0);
    let completions = match int_at(obj, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int_at(obj, &["spec", "parallelism"]).unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = parse_time(at(obj, &["status", "startTime"]));
    let completion = parse_time(at(obj, &["status", "completionTime"]));
    let duration = match (start, completion) {
        (None, _) => String::new(),
        (Some(s), None) => human_nanos(nanos_between(s, now)),
        (Some(s), Some(c)) => human_nanos(nanos_between(s, c)),
    };
    let status = if has_condition(obj, "Complete") {
        "Complete"
    } else if has_condition(obj, "Failed") {
        "Failed"
    } else if has(obj, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else if has_condition(obj, "Suspended") {
        "Suspended"
    } else if has_condition(obj, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(obj, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (names, images) = containers(obj, &["spec", "template", "spec", "containers"]);
    vec![
        name(obj),
        Value::from(status),
        Value::from(completions),
        Value::from(duration),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(at(obj, &["spec", "selector"]))),
    ]
}

fn cronjob_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = if has(obj, &["status", "lastScheduleTime"]) {
        since(at(obj, &["status", "lastScheduleTime"]), now)
    } else {
        "<none>".to_owned()
    };
    let time_zone = at(obj, &["spec", "timeZone"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let suspend = match at(obj, &["spec", "suspend"]).and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let active = i64::try_from(arr_at(obj, &["status", "active"]).len()).unwrap_or(i64::MAX);
    let (names, images) = containers(obj, &["spec", "jobTemplate", "spec", "template", "spec", "containers"]);
    vec![
        name(obj),
        Value::from(str_at(obj, &["spec", "schedule"])),
        Value::from(time_zone),
        Value::from(suspend),
        Value::from(active),
        Value::from(last_schedule),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(at(
            obj,
            &["spec", "jobTemplate", "spec", "selector"],
        ))),
    ]
}

fn ingress_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let class = at(obj, &["spec", "ingressClassName"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    // formatHosts: at most three hosts, then "+ N more..." counting rules.
    let rules = arr_at(obj, &["spec", "rules"]);
    let max = 3;
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == max {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_owned()
    } else if more {
        format!("{} + {} more...", hosts.join(","), rules.len() - max)
    } else {
        hosts.join(",")
    };
    let ports = if arr_at(obj, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(obj),
        Value::from(class),
        Value::from(hosts),
        Value::from(load_balancer_ingress(obj, &["status", "loadBalancer", "ingress"])),
        Value::from(ports),
        age(obj, now),
    ]
}

fn ingressclass_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match at(obj, &["spec", "parameters"]) {
        None => "<none>".to_owned(),
        Some(p) => {
            let mut s = str_at(p, &["kind"]).to_owned();
            if let Some(group) = at(p, &["apiGroup"]).and_then(Value::as_str) {
                s.push('.');
                s.push_str(group);
            }
            s.push('/');
            s.push_str(str_at(p, &["name"]));
            s
        }
    };
    vec![
        name(obj),
        Value::from(str_at(obj, &["spec", "controller"])),
        Value::from(parameters),
        age(obj, now),
    ]
}

fn networkpolicy_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    // The pod selector is a struct, never nil: absent means empty.
    let empty = Value::Object(Map::new());
    let selector = at(obj, &["spec", "podSelector"]).unwrap_or(&empty);
    vec![
        name(obj),
        Value::from(format_label_selector(Some(selector))),
        age(obj, now),
    ]
}

fn pdb_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let int_or_na = |field: &str| at(obj, &["spec", field]).map_or_else(|| "N/A".to_owned(), int_or_string);
    vec![
        name(obj),
        Value::from(int_or_na("minAvailable")),
        Value::from(int_or_na("maxUnavailable")),
        Value::from(int_at(obj, &["status", "disruptionsAllowed"]).unwrap_or(0)),
        age(obj, now),
    ]
}

/// `formatHPAMetrics` over autoscaling/v2 metric specs and statuses.
fn hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_owned();
    }
    let unknown = || "<unknown>".to_owned();
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let entry = match str_at(spec, &["type"]) {
            t @ ("External" | "Object") => {
                let field = if t == "External" { "external" } else { "object" };
                let target = at(spec, &[field, "target"]);
                let source = opt_at(status, &[field]);
                if let Some(avg) = opt_at(target, &["averageValue"]) {
                    let current = opt_at(source, &["current", "averageValue"]).map_or_else(unknown, quantity);
                    format!("{current}/{} (avg)", quantity(avg))
                } else {
                    let current = source.map_or_else(unknown, |s| quantity_or_nil(at(s, &["current", "value"])));
                    format!("{current}/{}", quantity_or_nil(opt_at(target, &["value"])))
                }
            }
            "Pods" => {
                let current = opt_at(status, &["pods"])
                    .map_or_else(unknown, |s| quantity_or_nil(at(s, &["current", "averageValue"])));
                let target = quantity_or_nil(at(spec, &["pods", "target", "averageValue"]));
                format!("{current}/{target}")
            }
            t @ ("Resource" | "ContainerResource") => {
                let field = if t == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let resource = str_at(spec, &[field, "name"]);
                let target = at(spec, &[field, "target"]);
                let source = opt_at(status, &[field]);
                if let Some(avg) = opt_at(target, &["averageValue"]) {
                    let current = source.map_or_else(unknown, |s| quantity_or_nil(at(s, &["current", "averageValue"])));
                    format!("{resource}: {current}/{}", quantity(avg))
                } else {
                    let current = opt_at(source, &["current", "averageUtilization"])
                        .and_then(as_int)
                        .map_or_else(unknown, |u| format!("{u}%"));
                    let target = opt_at(target, &["averageUtilization"])
                        .and_then(as_int)
                        .map_or_else(|| "<auto>".to_owned(), |u| format!("{u}%"));
                    format!("{resource}: {current}/{target}")
                }
            }
            _ => "<unknown type>".to_owned(),
        };
        list.push(entry);
    }
    let max = 2;
    let count = list.len();
    if count > max {
        list.truncate(max);
        return format!("{} + {} more...", list.join(", "), count - max);
    }
    list.join(", ")
}

fn hpa_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        str_at(obj, &["spec", "scaleTargetRef", "kind"]),
        str_at(obj, &["spec", "scaleTargetRef", "name"])
    );
    // An autoscaling/v1 object carries its single CPU target in dedicated
    // fields; the internal form the server prints from holds it as a metric.
    let mut specs = arr_at(obj, &["spec", "metrics"]).to_vec();
    let mut statuses = arr_at(obj, &["status", "currentMetrics"]).to_vec();
    if !has(obj, &["spec", "metrics"])
        && let Some(target) = int_at(obj, &["spec", "targetCPUUtilizationPercentage"])
    {
        specs.push(serde_json::json!({
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
        }));
        if let Some(current) = int_at(obj, &["status", "currentCPUUtilizationPercentage"]) {
            statuses.push(serde_json::json!({
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": current}},
            }));
        }
    }
    let min_pods = int_at(obj, &["spec", "minReplicas"]).map_or_else(|| "<unset>".to_owned(), |m| m.to_string());
    vec![
        name(obj),
        Value::from(reference),
        Value::from(hpa_metrics(&specs, &statuses)),
        Value::from(min_pods),
        Value::from(int_at(obj, &["spec", "maxReplicas"]).unwrap_or(0)),
        Value::from(int_at(obj, &["status", "currentReplicas"]).unwrap_or(0)),
        age(obj, now),
    ]
}

fn rolebinding_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        str_at(obj, &["roleRef", "kind"]),
        str_at(obj, &["roleRef", "name"])
    );
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for subject in arr_at(obj, &["subjects"]) {
        let subject_name = str_at(subject, &["name"]);
        match str_at(subject, &["kind"]) {
            "ServiceAccount" => service_accounts.push(format!("{}/{subject_name}", str_at(subject, &["namespace"]))),
            "User" => users.push(subject_name.to_owned()),
            "Group" => groups.push(subject_name.to_owned()),
            _ => {}
        }
    }
    vec![
        name(obj),
        Value::from(role),
        age(obj, now),
        Value::from(users.join(", ")),
        Value::from(groups.join(", ")),
        Value::from(service_accounts.join(", ")),
    ]
}

fn storageclass_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let annotation = |key: &str| str_at(obj, &["metadata", "annotations", key]) == "true";
    let mut display_name = str_at(obj, &["metadata", "name"]).to_owned();
    if annotation("storageclass.kubernetes.io/is-default-class")
        || annotation("storageclass.beta.kubernetes.io/is-default-class")
    {
        display_name.push_str(" (default)");
    }
    let or_default = |field: &str, default: &'static str| match at(obj, &[field]).and_then(Value::as_str) {
        Some(v) => v.to_owned(),
        None => default.to_owned(),
    };
    vec![
        Value::from(display_name),
        Value::from(str_at(obj, &["provisioner"])),
        Value::from(or_default("reclaimPolicy", "Delete")),
        Value::from(or_default("volumeBindingMode", "Immediate")),
        Value::from(
            at(obj, &["allowVolumeExpansion"])
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        age(obj, now),
    ]
}

fn priorityclass_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(int_at(obj, &["value"]).unwrap_or(0)),
        Value::from(at(obj, &["globalDefault"]).and_then(Value::as_bool).unwrap_or(false)),
        age(obj, now),
        Value::from(str_at(obj, &["preemptionPolicy"])),
    ]
}

fn pod_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let statuses = obj
        .pointer("/status/containerStatuses")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    let total = obj
        .pointer("/spec/containers")
        .and_then(|c| c.as_array())
        .map(|c| c.len())
        .unwrap_or(0);
    let ready = statuses
        .iter()
        .filter(|c| c.get("ready").and_then(|r| r.as_bool()) == Some(true))
        .count();
    let restarts: i64 = statuses
        .iter()
        .filter_map(|c| c.get("restartCount").and_then(|r| r.as_i64()))
        .sum();
    let waiting = statuses
        .iter()
        .find_map(|c| c.pointer("/state/waiting/reason").and_then(|r| r.as_str()));
    let status = if obj.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating".to_string()
    } else if let Some(reason) = obj.pointer("/status/reason").and_then(|r| r.as_str()) {
        reason.to_string()
    } else if let Some(w) = waiting {
        w.to_string()
    } else {
        str_at(obj, &["status", "phase"]).to_string()
    };
    let or_none = |v: &str| {
        if v.is_empty() {
            "<none>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name(obj),
        Value::from(format!("{ready}/{total}")),
        Value::from(status),
        Value::from(restarts.to_string()),
        age(obj, now),
        Value::from(or_none(str_at(obj, &["status", "podIP"]))),
        Value::from(or_none(str_at(obj, &["spec", "nodeName"]))),
        Value::from(or_none(str_at(obj, &["status", "nominatedNodeName"]))),
        Value::from("<none>"),
    ]
}

fn node_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let conditions = obj
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    let ready = conditions
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| c["status"] == "True");
    let mut status = match ready {
        Some(true) => "Ready".to_string(),
        Some(false) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if obj.pointer("/spec/unschedulable").and_then(|u| u.as_bool()) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = obj
        .pointer("/metadata/labels")
        .and_then(|l| l.as_object())
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let address = |ty: &str| {
        obj.pointer("/status/addresses")
            .and_then(|a| a.as_array())
            .and_then(|a| a.iter().find(|x| x["type"] == ty))
            .and_then(|x| x["address"].as_str())
            .unwrap_or("<none>")
            .to_string()
    };
    vec![
        name(obj),
        Value::from(status),
        Value::from(if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        }),
        age(obj, now),
        Value::from(str_at(obj, &["status", "nodeInfo", "kubeletVersion"])),
        Value::from(address("InternalIP")),
        Value::from(address("ExternalIP")),
        Value::from(str_at(obj, &["status", "nodeInfo", "osImage"])),
        Value::from(str_at(obj, &["status", "nodeInfo", "kernelVersion"])),
        Value::from(str_at(obj, &["status", "nodeInfo", "containerRuntimeVersion"])),
    ]
}

fn lease_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(str_at(obj, &["spec", "holderIdentity"])),
        age(obj, now),
    ]
}

// ---------------------------------------------------------------------------
// Custom resources
// ---------------------------------------------------------------------------

fn custom_cells(cols: &[CustomColumn], obj: &Value, now: Timestamp) -> Vec<Value> {
    let mut cells = Vec::with_capacity(cols.len() + 1);
    cells.push(name(obj));
    for column in cols {
        let value = match column.path.first(obj) {
            Some(v) => v,
            None => {
                cells.push(Value::Null);
                continue;
            }
        };
        let cell = if column.type_ == "string" {
            Value::from(jsonpath_text(value))
        } else {
            custom_cell(&column.type_, value, now)
        };
        cells.push(cell);
    }
    cells
}

/// `cellForJSONValue`: a typed cell for a non-string column.
fn custom_cell(type_: &str, value: &Value, now: Timestamp) -> Value {
    match (type_, value) {
        ("integer", Value::Number(_)) => as_int(value).map_or(Value::Null, Value::from),
        ("number", Value::Number(n)) => match n.as_f64() {
            Some(f) => float_cell(f),
            None => Value::Null,
        },
        ("boolean", Value::Bool(b)) => Value::from(*b),
        ("date", Value::String(s)) => {
            // metav1.Time.UnmarshalQueryParameter: "" and "null" are the zero time.
            if s.is_empty() || s == "null" {
                return Value::from("<unknown>");
            }
            match s.parse::<Timestamp>() {
                Ok(t) if is_go_zero(t) => Value::from("<unknown>"),
                Ok(t) => Value::from(human_nanos(nanos_between(t, now))),
                Err(_) => Value::from("<invalid>"),
            }
        }
        _ => Value::Null,
    }
}

/// A float cell serialized the way Go's encoding/json writes a float64:
/// integral values without a fractional part.
fn float_cell(f: f64) -> Value {
    // Integral floats below 2^53 convert exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if f.fract() == 0.0 && f.abs() < EXACT {
        return Value::from(f as i64);
    }
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// The text client-go's JSONPath printer writes for one value: strings as
/// they are, numbers and booleans as Go's `fmt.Print` would, objects and
/// arrays as compact JSON, and `null` as `<no value>`.
fn jsonpath_text(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                n.to_string()
            } else {
                n.as_f64().map_or_else(|| n.to_string(), go_float_v)
            }
        }
        Value::Array(_) | Value::Object(_) => go_json(v),
    }
}

/// Go's `%v` for a float64 (`strconv` 'g' with the shortest precision):
/// exponent form (`1e+06`, `1.5e-05`) when the decimal exponent is below -4
/// or at least 6, plain decimal otherwise.
fn go_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-1.2345e6".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{exp_sign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let out = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
        format!("0.{zeros}{digits}")
    } else {
        let point = usize::try_from(point).unwrap_or(0);
        if digits.len() <= point {
            format!("{digits}{}", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{out}")
}

/// Go's `json.Marshal` of a decoded JSON value: keys sorted, HTML
/// characters escaped, integral floats without a fraction.
fn go_json(v: &Value) -> String {
    fn normalize(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    if let Some(child) = m.get(k) {
                        out.insert(k.clone(), normalize(child));
                    }
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
            Value::Number(n) if !n.is_i64() && !n.is_u64() => n.as_f64().map_or_else(|| v.clone(), float_cell),
            other => other.clone(),
        }
    }
    normalize(v)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The subset of client-go's JSONPath that printer columns use: fields
/// (`.a.b`, `['a.b']`, `\.`-escaped dots), wildcards, indexes, slices,
/// unions, recursive descent and filters such as
/// `[?(@.type=="Ready")]`.
mod jsonpath {
    use serde_json::Value;

    /// One step of a path.
    #[derive(Clone, Debug, PartialEq)]
    enum Segment {
        Field(String),
        Fields(Vec<String>),
        Wildcard,
        Recursive,
        Indexes(Vec<i64>),
        Slice(Option<i64>, Option<i64>, Option<i64>),
        Filter(Box<Filter>),
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Filter {
        left: Vec<Segment>,
        op: Option<String>,
        right: Operand,
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Operand {
        None,
        Path(Vec<Segment>),
        Literal(Value),
    }

    /// A parsed JSONPath expression.
    #[derive(Clone, Debug, PartialEq)]
    pub(super) struct Path(Vec<Segment>);

    struct Parser {
        chars: Vec<char>,
        pos: usize,
    }

    impl Path {
        /// Parse a CRD column path such as `.status.replicas`.
        pub(super) fn parse(src: &str) -> Result<Path, ()> {
            let mut p = Parser {
                chars: src.trim().chars().collect(),
                pos: 0,
            };
            if p.peek() == Some('$') {
                p.pos += 1;
            }
            let segments = p.segments(&[])?;
            if p.pos != p.chars.len() {
                return Err(());
            }
            Ok(Path(segments))
        }

        /// The first value the path selects, as client-go's table convertor
        /// uses it; `None` when nothing matches or evaluation fails.
        pub(super) fn first<'v>(&self, root: &'v Value) -> Option<&'v Value> {
            eval(&self.0, vec![root]).ok()?.into_iter().next()
        }
    }

    impl Parser {
        fn peek(&self) -> Option<char> {
            self.chars.get(self.pos).copied()
        }

        fn peek_at(&self, offset: usize) -> Option<char> {
            self.chars.get(self.pos + offset).copied()
        }

        fn skip_ws(&mut self) {
            while self.peek().is_some_and(char::is_whitespace) {
                self.pos += 1;
            }
        }

        /// Segments until the input ends or a character in `stop` appears.
        fn segments(&mut self, stop: &[char]) -> Result<Vec<Segment>, ()> {
            let mut out = Vec::new();
            while let Some(c) = self.peek() {
                if stop.contains(&c) || c.is_whitespace() {
                    break;
                }
                match c {
                    '.' => {
                        self.pos += 1;
                        if self.peek() == Some('.') {
                            self.pos += 1;
                            out.push(Segment::Recursive);
                            if self.peek() == Some('[') {
                                continue;
                            }
                        }
                        if self.peek() == Some('*') {
                            self.pos += 1;
                            out.push(Segment::Wildcard);
                            continue;
                        }
                        let field = self.field_name();
                        if field.is_empty() {
                            // A lone trailing "." (or ".." before a bracket) selects the current value.
                            if out.last() == Some(&Segment::Recursive) {
                                return Err(());
                            }
                            continue;
                        }
                        out.push(Segment::Field(field));
                    }
                    '[' => {
                        self.pos += 1;
                        out.push(self.bracket()?);
                    }
                    _ => return Err(()),
                }
            }
            Ok(out)
        }

        fn field_name(&mut self) -> String {
            let mut name = String::new();
            while let Some(c) = self.peek() {
                match c {
                    '\\' => {
                        self.pos += 1;
                        if let Some(next) = self.peek() {
                            name.push(next);
                            self.pos += 1;
                        }
                    }
                    '.' | '[' | ']' | '(' | ')' | '=' | '!' | '<' | '>' | '&' | '|' => break,
                    c if c.is_whitespace() => break,
                    c => {
                        name.push(c);
                        self.pos += 1;
                    }
                }
            }
            name
        }

        fn expect(&mut self, c: char) -> Result<(), ()> {
            self.skip_ws();
            if self.peek() == Some(c) {
                self.pos += 1;
                Ok(())
            } else {
                Err(())
            }
        }

        fn quoted(&mut self) -> Result<String, ()> {
            let quote = self.peek().ok_or(())?;
            self.pos += 1;
            let mut s = String::new();
            loop {
                match self.peek().ok_or(())? {
                    '\\' => {
                        self.pos += 1;
                        let c = self.peek().ok_or(())?;
                        s.push(match c {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                        self.pos += 1;
                    }
                    c if c == quote => {
                        self.pos += 1;
                        return Ok(s);
                    }
                    c => {
                        s.push(c);
                        self.pos += 1;
                    }
                }
            }
        }

        fn integer(&mut self) -> Result<Option<i64>, ()> {
            self.skip_ws();
            let start = self.pos;
            if self.peek() == Some('-') {
                self.pos += 1;
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if start == self.pos {
                return Ok(None);
            }
            let text: String = self.chars[start..self.pos].iter().collect();
            text.parse().map(Some).map_err(|_| ())
        }

        /// The content of `[...]`, after the opening bracket.
        fn bracket(&mut self) -> Result<Segment, ()> {
            self.skip_ws();
            let seg = match self.peek().ok_or(())? {
                '*' => {
                    self.pos += 1;
                    Segment::Wildcard
                }
                '\'' | '"' => {
                    let mut names = vec![self.quoted()?];
                    self.skip_ws();
                    while self.peek() == Some(',') {
                        self.pos += 1;
                        self.skip_ws();
                        names.push(self.quoted()?);
                        self.skip_ws();
                    }
                    if names.len() == 1 {
                        Segment::Field(names.remove(0))
                    } else {
                        Segment::Fields(names)
                    }
                }
                '?' => {
                    self.pos += 1;
                    self.expect('(')?;
                    let filter = self.filter()?;
                    self.expect(')')?;
                    Segment::Filter(Box::new(filter))
                }
                _ => {
                    let first = self.integer()?;
                    self.skip_ws();
                    if self.peek() == Some(':') {
                        self.pos += 1;
                        let end = self.integer()?;
                        self.skip_ws();
                        let step = if self.peek() == Some(':') {
                            self.pos += 1;
                            self.integer()?
                        } else {
                            None
                        };
                        Segment::Slice(first, end, step)
                    } else {
                        let mut indexes = vec![first.ok_or(())?];
                        self.skip_ws();
                        while self.peek() == Some(',') {
                            self.pos += 1;
                            indexes.push(self.integer()?.ok_or(())?);
                            self.skip_ws();
                        }
                        Segment::Indexes(indexes)
                    }
                }
            };
            self.expect(']')?;
            Ok(seg)
        }

        fn filter(&mut self) -> Result<Filter, ()> {
            self.skip_ws();
            let left = self.current_path()?;
            self.skip_ws();
            let op = match (self.peek(), self.peek_at(1)) {
                (Some('='), Some('=')) => Some("=="),
                (Some('!'), Some('=')) => Some("!="),
                (Some('<'), Some('=')) => Some("<="),
                (Some('>'), Some('=')) => Some(">="),
                (Some('<'), _) => Some("<"),
                (Some('>'), _) => Some(">"),
                (Some(')'), _) => None,
                _ => return Err(()),
            };
            let Some(op) = op else {
                return Ok(Filter {
                    left,
                    op: None,
                    right: Operand::None,
                });
            };
            self.pos += op.len();
            self.skip_ws();
            let right = match self.peek().ok_or(())? {
                '@' => Operand::Path(self.current_path()?),
                '\'' | '"' => Operand::Literal(Value::from(self.quoted()?)),
                _ => Operand::Literal(self.literal()?),
            };
            Ok(Filter {
                left,
                op: Some(op.to_owned()),
                right,
            })
        }

        fn current_path(&mut self) -> Result<Vec<Segment>, ()> {
            if self.peek() != Some('@') {
                return Err(());
            }
            self.pos += 1;
            self.segments(&[')', '=', '!', '<', '>'])
        }

        fn literal(&mut self) -> Result<Value, ()> {
            let start = self.pos;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
            {
                self.pos += 1;
            }
            let text: String = self.chars[start..self.pos].iter().collect();
            match text.as_str() {
                "true" => return Ok(Value::Bool(true)),
                "false" => return Ok(Value::Bool(false)),
                "null" | "nil" => return Ok(Value::Null),
                _ => {}
            }
            if text.contains(['.', 'e', 'E']) {
                let f: f64 = text.parse().map_err(|_| ())?;
                serde_json::Number::from_f64(f).map(Value::Number).ok_or(())
            } else {
                text.parse::<i64>().map(Value::from).map_err(|_| ())
            }
        }
    }

    fn descendants<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
        out.push(v);
        match v {
            Value::Object(m) => m.values().for_each(|c| descendants(c, out)),
            Value::Array(a) => a.iter().for_each(|c| descendants(c, out)),
            _ => {}
        }
    }

    fn normalize_index(i: i64, len: i64) -> i64 {
        if i < 0 { i + len } else { i }
    }

    fn eval<'v>(segments: &[Segment], mut cur: Vec<&'v Value>) -> Result<Vec<&'v Value>, ()> {
        for segment in segments {
            let mut next = Vec::new();
            for v in cur {
                match segment {
                    Segment::Field(name) => {
                        if let Some(child) = v.as_object().and_then(|m| m.get(name)) {
                            next.push(child);
                        }
                    }
                    Segment::Fields(names) => {
                        if let Some(m) = v.as_object() {
                            next.extend(names.iter().filter_map(|n| m.get(n)));
                        }
                    }
                    Segment::Wildcard => match v {
                        Value::Object(m) => next.extend(m.values()),
                        Value::Array(a) => next.extend(a.iter()),
                        _ => {}
                    },
                    Segment::Recursive => descendants(v, &mut next),
                    Segment::Indexes(indexes) => {
                        let a = v.as_array().ok_or(())?;
                        let len = i64::try_from(a.len()).map_err(|_| ())?;
                        for &i in indexes {
                            let i = normalize_index(i, len);
                            let i = usize::try_from(i).map_err(|_| ())?;
                            next.push(a.get(i).ok_or(())?);
                        }
                    }
                    Segment::Slice(start, end, step) => {
                        let a = v.as_array().ok_or(())?;
                        let len = i64::try_from(a.len()).map_err(|_| ())?;
                        let start = start.map_or(0, |s| normalize_index(s, len)).clamp(0, len);
                        let end = end.map_or(len, |e| normalize_index(e, len)).clamp(0, len);
                        let step = step.unwrap_or(1);
                        if step <= 0 {
                            return Err(());
                        }
                        let mut i = start;
                        while i < end {
                            if let Some(item) = usize::try_from(i).ok().and_then(|i| a.get(i)) {
                                next.push(item);
                            }
                            i += step;
                        }
                    }
                    Segment::Filter(filter) => {
                        let a = v.as_array().ok_or(())?;
                        for item in a {
                            if filter_matches(filter, item)? {
                                next.push(item);
                            }
                        }
                    }
                }
            }
            cur = next;
        }
        Ok(cur)
    }

    fn filter_matches(filter: &Filter, item: &Value) -> Result<bool, ()> {
        let lefts = eval(&filter.left, vec![item]);
        let Some(op) = &filter.op else {
            return Ok(lefts.is_ok_and(|l| !l.is_empty()));
        };
        let lefts = lefts?;
        let left = match lefts.as_slice() {
            [] => return Ok(false),
            [one] => *one,
            _ => return Err(()),
        };
        let literal;
        let right = match &filter.right {
            Operand::None => return Err(()),
            Operand::Literal(v) => {
                literal = v;
                literal
            }
            Operand::Path(path) => match eval(path, vec![item])?.as_slice() {
                [] => return Ok(false),
                [one] => *one,
                _ => return Err(()),
            },
        };
        let ordering = compare(left, right)?;
        use std::cmp::Ordering::{Equal, Greater, Less};
        Ok(match (op.as_str(), ordering) {
            ("==", Some(o)) => o == Equal,
            ("!=", Some(o)) => o != Equal,
            ("<", Some(o)) => o == Less,
            (">", Some(o)) => o == Greater,
            ("<=", Some(o)) => o != Greater,
            (">=", Some(o)) => o != Less,
            ("==", None) => false,
            ("!=", None) => true,
            _ => return Err(()),
        })
    }

    /// Compare like Go's text/template comparisons: same basic kind only
    /// (integers, floats, strings, booleans); `None` = comparable for
    /// equality only and different.
    fn compare(a: &Value, b: &Value) -> Result<Option<std::cmp::Ordering>, ()> {
        match (a, b) {
            (Value::String(x), Value::String(y)) => Ok(Some(x.cmp(y))),
            (Value::Bool(x), Value::Bool(y)) => Ok(if x == y { Some(std::cmp::Ordering::Equal) } else { None }),
            (Value::Number(x), Value::Number(y)) => {
                let x_int = x.is_i64() || x.is_u64();
                let y_int = y.is_i64() || y.is_u64();
                if x_int != y_int {
                    return Err(());
                }
                if x_int {
                    let wide =
                        |n: &serde_json::Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
                    let x = wide(x).ok_or(())?;
                    let y = wide(y).ok_or(())?;
                    Ok(Some(x.cmp(&y)))
                } else {
                    let x = x.as_f64().ok_or(())?;
                    let y = y.as_f64().ok_or(())?;
                    Ok(x.partial_cmp(&y))
                }
            }
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().unwrap()
    }

    /// RFC3339 text of `now() - secs`.
    fn ago(secs: i64) -> String {
        let t = Timestamp::from_second(now().as_second() - secs).unwrap();
        rfc3339(Some(&Value::from(t.to_string())))
    }

    fn cells(group: &str, resource: &str, obj: Value) -> Vec<Value> {
        let printer = Printer::for_resource(group, resource);
        let cells = printer.cells(&obj, now());
        assert_eq!(cells.len(), printer.columns().len(), "{group}/{resource}");
        cells
    }

    fn names(group: &str, resource: &str) -> Vec<String> {
        Printer::for_resource(group, resource)
            .columns()
            .iter()
            .map(|c| c.name.to_string())
            .collect()
    }

    fn wide_names(group: &str, resource: &str) -> Vec<String> {
        Printer::for_resource(group, resource)
            .columns()
            .iter()
            .filter(|c| c.priority == 1)
            .map(|c| c.name.to_string())
            .collect()
    }

    fn meta(name: &str, age_secs: i64) -> Value {
        json!({"name": name, "namespace": "ns", "creationTimestamp": ago(age_secs)})
    }

    // ----- human_duration -------------------------------------------------

    fn hd(secs: u64) -> String {
        human_duration(std::time::Duration::from_secs(secs))
    }

    #[test]
    fn human_duration_seconds() {
        assert_eq!(hd(0), "0s");
        assert_eq!(hd(1), "1s");
        assert_eq!(hd(59), "59s");
        assert_eq!(hd(119), "119s");
        assert_eq!(human_duration(std::time::Duration::from_millis(119_999)), "119s");
    }

    #[test]
    fn human_duration_minutes() {
        assert_eq!(hd(120), "2m");
        assert_eq!(hd(121), "2m1s");
        assert_eq!(hd(182), "3m2s");
        assert_eq!(hd(9 * 60 + 59), "9m59s");
        assert_eq!(hd(10 * 60), "10m");
        assert_eq!(hd(10 * 60 + 59), "10m");
        assert_eq!(hd(179 * 60 + 59), "179m");
    }

    #[test]
    fn human_duration_hours() {
        assert_eq!(hd(3 * 3600), "3h");
        assert_eq!(hd(3 * 3600 + 60), "3h1m");
        assert_eq!(hd(7 * 3600 + 59 * 60 + 59), "7h59m");
        assert_eq!(hd(8 * 3600), "8h");
        assert_eq!(hd(8 * 3600 + 59 * 60), "8h");
        assert_eq!(hd(47 * 3600 + 3599), "47h");
    }

    #[test]
    fn human_duration_days_and_years() {
        const DAY: u64 = 86_400;
        assert_eq!(hd(2 * DAY), "2d");
        assert_eq!(hd(2 * DAY + 3 * 3600), "2d3h");
        assert_eq!(hd(7 * DAY + 23 * 3600), "7d23h");
        assert_eq!(hd(8 * DAY), "8d");
        assert_eq!(hd(8 * DAY + 23 * 3600), "8d");
        assert_eq!(hd(324 * DAY), "324d");
        assert_eq!(hd(729 * DAY), "729d");
        assert_eq!(hd(730 * DAY), "2y");
        assert_eq!(hd(731 * DAY), "2y1d");
        assert_eq!(hd(3 * 365 * DAY + 364 * DAY), "3y364d");
        assert_eq!(hd(8 * 365 * DAY - DAY), "7y364d");
        assert_eq!(hd(8 * 365 * DAY), "8y");
        assert_eq!(hd(10 * 365 * DAY + 100 * DAY), "10y");
    }

    #[test]
    fn human_duration_saturates_like_go() {
        assert_eq!(human_duration(std::time::Duration::MAX), "292y");
        assert_eq!(hd(1_000 * 365 * 86_400), "292y");
    }

    #[test]
    fn human_nanos_negative_skew() {
        assert_eq!(human_nanos(-999_999_999), "0s");
        assert_eq!(human_nanos(-1_999_999_999), "0s");
        assert_eq!(human_nanos(-2_000_000_000), "<invalid>");
        assert_eq!(human_nanos(i64::MIN), "<invalid>");
    }

    #[test]
    fn ages_from_creation_timestamp() {
        let cm = |ts: Value| {
            cells(
                "",
                "configmaps",
                json!({"metadata": {"name": "x", "creationTimestamp": ts}}),
            )
        };
        assert_eq!(cm(Value::from(ago(0)))[2], "0s");
        assert_eq!(cm(Value::from(ago(90 * 60)))[2], "90m");
        assert_eq!(cm(Value::from(ago(-1)))[2], "0s");
        assert_eq!(cm(Value::from(ago(-5)))[2], "<invalid>");
        assert_eq!(cm(Value::Null)[2], "<unknown>");
        assert_eq!(cm(Value::from("garbage"))[2], "<unknown>");
        assert_eq!(cm(Value::from("0001-01-01T00:00:00Z"))[2], "<unknown>");
        assert_eq!(cm(Value::from("2025-06-01T11:59:00.5+00:00"))[2], "59s");
        assert_eq!(cm(Value::from("2025-06-01T13:00:00+02:00"))[2], "60m");
        let missing = cells("", "configmaps", json!({"metadata": {"name": "x"}}));
        assert_eq!(missing[2], "<unknown>");
    }

    // ----- recorded kube-apiserver responses ----------------------------------

    #[test]
    fn recorded_deployment_table() {
        let printer = Printer::for_resource("apps", "deployments");
        let cols = serde_json::to_value(printer.columns()).unwrap();
        assert_eq!(
            cols,
            json!([
                {"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0},
                {"name": "Ready", "type": "string", "format": "", "description": "Number of the pod with ready state", "priority": 0},
                {"name": "Up-to-date", "type": "string", "format": "", "description": "Total number of non-terminating pods targeted by this deployment that have the desired template spec.", "priority": 0},
                {"name": "Available", "type": "string", "format": "", "description": "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.", "priority": 0},
                {"name": "Age", "type": "string", "format": "", "description": AGE_DESC, "priority": 0},
                {"name": "Containers", "type": "string", "format": "", "description": "Names of each container in the template.", "priority": 1},
                {"name": "Images", "type": "string", "format": "", "description": "Images referenced by each container in the template.", "priority": 1},
                {"name": "Selector", "type": "string", "format": "", "description": "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.", "priority": 1},
            ])
        );
        // The serialized key order matters to byte-for-byte comparisons.
        let text = serde_json::to_string(&printer.columns()[1]).unwrap();
        assert_eq!(
            text,
            r#"{"name":"Ready","type":"string","format":"","description":"Number of the pod with ready state","priority":0}"#
        );
        let obj = json!({
            "metadata": {"name": "d", "namespace": "g037", "creationTimestamp": ago(0), "labels": {"app": "d", "tier": "x"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:1"},
                    {"name": "side", "image": "busybox"}
                ]}}
            },
            "status": {}
        });
        assert_eq!(
            printer.cells(&obj, now()),
            vec![
                json!("d"),
                json!("0/1"),
                json!(0),
                json!(0),
                json!("0s"),
                json!("web,side"),
                json!("nginx:1,busybox"),
                json!("app=d")
            ]
        );
    }

    #[test]
    fn recorded_service_table() {
        assert_eq!(
            names("", "services"),
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        assert_eq!(wide_names("", "services"), ["Selector"]);
        let cols = Printer::for_resource("", "services");
        assert!(
            cols.columns()[2]
                .description
                .starts_with("clusterIP is the IP address of the service")
        );
        assert!(
            cols.columns()[3]
                .description
                .starts_with("externalIPs is a list of IP addresses")
        );
        let obj = json!({
            "metadata": meta("s", 0),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.110.57",
                "clusterIPs": ["10.96.110.57"],
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "selector": {"app": "d"}
            }
        });
        assert_eq!(
            cells("", "services", obj),
            vec![
                json!("s"),
                json!("ClusterIP"),
                json!("10.96.110.57"),
                json!("<none>"),
                json!("80/TCP"),
                json!("0s"),
                json!("app=d")
            ]
        );
    }

    #[test]
    fn recorded_configmap_tables() {
        let cols = serde_json::to_value(Printer::for_resource("", "configmaps").columns()).unwrap();
        assert_eq!(
            cols,
            json!([
                {"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0},
                {"name": "Data", "type": "string", "format": "", "description": "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.", "priority": 0},
                {"name": "Age", "type": "string", "format": "", "description": AGE_DESC, "priority": 0},
            ])
        );
        let root_ca = json!({"metadata": meta("kube-root-ca.crt", 0), "data": {"ca.crt": "..."}});
        let x = json!({"metadata": meta("x", 1), "data": {"a": "1", "b": "2"}});
        assert_eq!(
            cells("", "configmaps", root_ca),
            vec![json!("kube-root-ca.crt"), json!(1), json!("0s")]
        );
        assert_eq!(cells("", "configmaps", x), vec![json!("x"), json!(2), json!("1s")]);
        let binary = json!({"metadata": meta("b", 0), "data": {"a": "1"}, "binaryData": {"b": "AA==", "c": "AA=="}});
        assert_eq!(cells("", "configmaps", binary)[1], 3);
        assert_eq!(cells("", "configmaps", json!({"metadata": meta("e", 0)}))[1], 0);
    }

    #[test]
    fn recorded_namespace_table() {
        assert_eq!(names("", "namespaces"), ["Name", "Status", "Age"]);
        assert_eq!(
            Printer::for_resource("", "namespaces").columns()[1].description,
            "The status of the namespace"
        );
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": ago(90 * 60 + 30)}, "status": {"phase": "Active"}});
        assert_eq!(
            cells("", "namespaces", ns),
            vec![json!("default"), json!("Active"), json!("90m")]
        );
        let terminating = json!({"metadata": meta("t", 5), "status": {"phase": "Terminating"}});
        assert_eq!(cells("", "namespaces", terminating)[1], "Terminating");
        assert_eq!(cells("", "namespaces", json!({"metadata": meta("n", 5)}))[1], "");
    }

    #[test]
    fn recorded_event_table() {
        let printer = Printer::for_resource("", "events");
        let cols = printer.columns();
        let summary: Vec<(&str, &str, &str, i32)> = cols
            .iter()
            .map(|c| (&*c.name, &*c.type_, &*c.format, c.priority))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("Last Seen", "string", "", 0),
                ("Type", "string", "", 0),
                ("Reason", "string", "", 0),
                ("Object", "string", "", 0),
                ("Subobject", "string", "", 1),
                ("Source", "string", "", 1),
                ("Message", "string", "", 0),
                ("First Seen", "string", "", 1),
                ("Count", "string", "", 1),
                ("Name", "string", "name", 1),
            ]
        );
        assert_eq!(
            cols[0].description,
            "The time at which the most recent occurrence of this event was recorded."
        );
        assert_eq!(
            cols[1].description,
            "Type of this event (Normal, Warning), new types could be added in the future"
        );
        assert_eq!(cols[3].description, "The object that this event is about.");
        assert_eq!(
            cols[5].description,
            "The component reporting this event. Should be a short machine understandable string."
        );
        assert_eq!(
            cols[6].description,
            "A human-readable description of the status of this operation."
        );
        assert_eq!(
            cols[7].description,
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"
        );
        assert_eq!(cols[8].description, "The number of times this event has occurred.");
        assert_eq!(cols[9].description, NAME_DESC);
        let day = 86_400;
        let event = json!({
            "metadata": meta("e1", 10),
            "involvedObject": {"kind": "ConfigMap", "name": "x", "namespace": "ns"},
            "reason": "Tested",
            "message": "golden event",
            "source": {"component": "golden"},
            "firstTimestamp": ago(324 * day + 100),
            "lastTimestamp": ago(324 * day + 100),
            "count": 1,
            "type": "Normal"
        });
        assert_eq!(
            printer.cells(&event, now()),
            vec![
                json!("324d"),
                json!("Normal"),
                json!("Tested"),
                json!("configmap/x"),
                json!(""),
                json!("golden"),
                json!("golden event"),
                json!("324d"),
                json!(1),
                json!("e1")
            ]
        );
    }

    #[test]
    fn recorded_crd_printer_columns() {
        let printer = Printer::from_printer_columns(&json!([
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Color", "type": "string", "jsonPath": ".spec.color", "description": "the color"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]));
        let cols = serde_json::to_value(printer.columns()).unwrap();
        assert_eq!(
            cols,
            json!([
                {"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0},
                {"name": "Size", "type": "integer", "format": "", "description": "Custom resource definition column (in JSONPath format): .spec.size", "priority": 0},
                {"name": "Color", "type": "string", "format": "", "description": "the color", "priority": 0},
                {"name": "Age", "type": "date", "format": "", "description": "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp", "priority": 0},
            ])
        );
        let widget = json!({
            "apiVersion": "golden.example.com/v1",
            "kind": "Widget",
            "metadata": meta("w", 0),
            "spec": {"size": 3, "color": "red", "tags": ["a"]}
        });
        assert_eq!(
            printer.cells(&widget, now()),
            vec![json!("w"), json!(3), json!("red"), json!("0s")]
        );
    }

    // ----- default table ------------------------------------------------------

    #[test]
    fn default_table_for_unprinted_resources() {
        for (group, resource) in [
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
            ("", "limitranges"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
            ("example.com", "widgets"),
            ("", "nothings"),
        ] {
            let printer = Printer::for_resource(group, resource);
            let cols = serde_json::to_value(printer.columns()).unwrap();
            assert_eq!(
                cols,
                json!([
                    {"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0},
                    {"name": "Created At", "type": "date", "format": "", "description": AGE_DESC, "priority": 0},
                ]),
                "{group}/{resource}"
            );
        }
        let role = json!({"metadata": {"name": "r", "creationTimestamp": "2024-02-03T04:05:06Z"}, "rules": []});
        assert_eq!(
            cells("rbac.authorization.k8s.io", "roles", role),
            vec![json!("r"), json!("2024-02-03T04:05:06Z")]
        );
        let offset = json!({"metadata": {"name": "l", "creationTimestamp": "2024-02-03T06:05:06.789+02:00"}});
        assert_eq!(cells("", "limitranges", offset)[1], "2024-02-03T04:05:06Z");
        assert_eq!(
            cells("", "limitranges", json!({"metadata": {"name": "l"}})),
            vec![json!("l"), json!("0001-01-01T00:00:00Z")]
        );
        assert_eq!(
            cells("", "limitranges", json!({})),
            vec![json!(""), json!("0001-01-01T00:00:00Z")]
        );
    }

    #[test]
    fn every_printer_survives_empty_and_hostile_objects() {
        let resources = [
            ("", "namespaces"),
            ("", "configmaps"),
            ("", "secrets"),
            ("", "services"),
            ("", "serviceaccounts"),
            ("", "persistentvolumeclaims"),
            ("", "resourcequotas"),
            ("", "limitranges"),
            ("", "events"),
            ("events.k8s.io", "events"),
            ("apps", "deployments"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("apps", "replicasets"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
            ("networking.k8s.io", "ingresses"),
            ("networking.k8s.io", "ingressclasses"),
            ("networking.k8s.io", "networkpolicies"),
            ("policy", "poddisruptionbudgets"),
            ("autoscaling", "horizontalpodautoscalers"),
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("rbac.authorization.k8s.io", "clusterroles"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
            ("storage.k8s.io", "storageclasses"),
            ("scheduling.k8s.io", "priorityclasses"),
            ("coordination.k8s.io", "leases"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
        ];
        let hostile = [
            json!({}),
            json!(null),
            json!([1, 2]),
            json!("string"),
            json!({"metadata": 5, "spec": [], "status": "x"}),
            json!({"metadata": {"name": 5, "creationTimestamp": 7}, "spec": {"replicas": "three", "selector": 4, "ports": [1, {"port": "x"}], "metrics": [{"type": "Resource"}, 3], "rules": [null]}, "status": {"hard": {"cpu": 5}, "conditions": [1]}, "data": [], "subjects": [1], "involvedObject": 3, "series": 4}),
        ];
        for (group, resource) in resources {
            let printer = Printer::for_resource(group, resource);
            assert!(!printer.columns()[0].name.is_empty());
            for obj in &hostile {
                let cells = printer.cells(obj, now());
                assert_eq!(cells.len(), printer.columns().len(), "{group}/{resource} {obj}");
            }
        }
    }

    #[test]
    fn wide_columns_have_priority_one() {
        assert_eq!(wide_names("apps", "deployments"), ["Containers", "Images", "Selector"]);
        assert_eq!(wide_names("apps", "statefulsets"), ["Containers", "Images"]);
        assert_eq!(wide_names("apps", "daemonsets"), ["Containers", "Images", "Selector"]);
        assert_eq!(wide_names("apps", "replicasets"), ["Containers", "Images", "Selector"]);
        assert_eq!(wide_names("batch", "jobs"), ["Containers", "Images", "Selector"]);
        assert_eq!(wide_names("batch", "cronjobs"), ["Containers", "Images", "Selector"]);
        assert_eq!(wide_names("", "persistentvolumeclaims"), ["VolumeMode"]);
        assert_eq!(
            wide_names("rbac.authorization.k8s.io", "rolebindings"),
            ["Users", "Groups", "ServiceAccounts"]
        );
        assert_eq!(
            wide_names("", "events"),
            ["Subobject", "Source", "First Seen", "Count", "Name"]
        );
        assert!(wide_names("", "configmaps").is_empty());
        assert!(wide_names("scheduling.k8s.io", "priorityclasses").is_empty());
        for (group, resource) in [("", "configmaps"), ("apps", "deployments"), ("batch", "jobs")] {
            let printer = Printer::for_resource(group, resource);
            let name = &printer.columns()[0];
            assert_eq!((&*name.name, &*name.format, name.priority), ("Name", "name", 0));
        }
    }

    // ----- core ------------------------------------------------------------------

    #[test]
    fn secrets() {
        assert_eq!(names("", "secrets"), ["Name", "Type", "Data", "Age"]);
        let secret =
            json!({"metadata": meta("tls", 3600), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(
            cells("", "secrets", secret),
            vec![json!("tls"), json!("kubernetes.io/tls"), json!(2), json!("60m")]
        );
        let empty = cells("", "secrets", json!({"metadata": meta("e", 0)}));
        assert_eq!(empty, vec![json!("e"), json!(""), json!(0), json!("0s")]);
    }

    #[test]
    fn serviceaccounts() {
        assert_eq!(names("", "serviceaccounts"), ["Name", "Secrets", "Age"]);
        let sa = json!({"metadata": meta("default", 200), "secrets": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(
            cells("", "serviceaccounts", sa),
            vec![json!("default"), json!(2), json!("3m20s")]
        );
        assert_eq!(cells("", "serviceaccounts", json!({"metadata": meta("x", 0)}))[1], 0);
    }

    #[test]
    fn services_of_every_type() {
        let svc = |spec: Value, status: Value| {
            cells(
                "",
                "services",
                json!({"metadata": meta("s", 0), "spec": spec, "status": status}),
            )
        };
        let node_port = svc(
            json!({"type": "NodePort", "clusterIPs": ["10.0.0.1", "fd00::1"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "externalIPs": ["1.2.3.4", "5.6.7.8"]}),
            json!({}),
        );
        assert_eq!(node_port[1], "NodePort");
        assert_eq!(node_port[2], "10.0.0.1");
        assert_eq!(node_port[3], "1.2.3.4,5.6.7.8");
        assert_eq!(node_port[4], "80:30080/TCP,53/UDP");
        assert_eq!(node_port[6], "<none>");

        let pending = svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.0.0.2", "ports": [{"port": 443, "nodePort": 31443}]}),
            json!({}),
        );
        assert_eq!(pending[2], "10.0.0.2");
        assert_eq!(pending[3], "<pending>");
        assert_eq!(pending[4], "443:31443/TCP");

        let lb = svc(
            json!({"type": "LoadBalancer", "clusterIPs": ["10.0.0.3"]}),
            json!({"loadBalancer": {"ingress": [{"ip": "9.9.9.9"}, {"hostname": "lb.example.com"}, {"ip": "1.1.1.1", "hostname": "ignored"}, {"ip": "9.9.9.9"}, {}]}}),
        );
        assert_eq!(lb[3], "1.1.1.1,9.9.9.9,lb.example.com");
        assert_eq!(lb[4], "<none>");

        let lb_and_external = svc(
            json!({"type": "LoadBalancer", "externalIPs": ["8.8.8.8"]}),
            json!({"loadBalancer": {"ingress": [{"ip": "2.2.2.2"}]}}),
        );
        assert_eq!(lb_and_external[3], "2.2.2.2,8.8.8.8");
        let external_only = svc(json!({"type": "LoadBalancer", "externalIPs": ["8.8.8.8"]}), json!({}));
        assert_eq!(external_only[3], "8.8.8.8");

        let external_name = svc(
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
            json!({}),
        );
        assert_eq!(external_name[2], "<none>");
        assert_eq!(external_name[3], "db.example.com");

        let headless = svc(
            json!({"clusterIP": "None", "clusterIPs": ["None"], "selector": {"b": "2", "a": "1"}}),
            json!({}),
        );
        assert_eq!(headless[1], "ClusterIP");
        assert_eq!(headless[2], "None");
        assert_eq!(headless[3], "<none>");
        assert_eq!(headless[6], "a=1,b=2");

        let weird = svc(json!({"type": "Bogus"}), json!({}));
        assert_eq!(weird[3], "<unknown>");

        let bare = cells("", "services", json!({"metadata": meta("b", 0)}));
        assert_eq!(
            bare,
            vec![
                json!("b"),
                json!("ClusterIP"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("0s"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn persistentvolumeclaims() {
        assert_eq!(
            names("", "persistentvolumeclaims"),
            [
                "Name",
                "Status",
                "Volume",
                "Capacity",
                "Access Modes",
                "StorageClass",
                "VolumeAttributesClass",
                "Age",
                "VolumeMode"
            ]
        );
        let bound = json!({
            "metadata": meta("data", 60),
            "spec": {"volumeName": "pv-1", "storageClassName": "fast", "volumeMode": "Filesystem", "volumeAttributesClassName": "gold", "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany"]}
        });
        assert_eq!(
            cells("", "persistentvolumeclaims", bound),
            vec![
                json!("data"),
                json!("Bound"),
                json!("pv-1"),
                json!("1Gi"),
                json!("RWO,ROX,RWX,RWOP"),
                json!("fast"),
                json!("gold"),
                json!("60s"),
                json!("Filesystem")
            ]
        );
        let pending = json!({
            "metadata": {"name": "p", "creationTimestamp": ago(5), "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
            "spec": {"storageClassName": "ignored", "resources": {"requests": {"storage": "5Gi"}}},
            "status": {"phase": "Pending", "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"]}
        });
        assert_eq!(
            cells("", "persistentvolumeclaims", pending),
            vec![
                json!("p"),
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("legacy"),
                json!("<unset>"),
                json!("5s"),
                json!("<unset>")
            ]
        );
        let terminating = json!({
            "metadata": {"name": "t", "creationTimestamp": ago(5), "deletionTimestamp": ago(1)},
            "spec": {"volumeName": "pv"},
            "status": {"phase": "Bound"}
        });
        let t = cells("", "persistentvolumeclaims", terminating);
        assert_eq!(t[1], "Terminating");
        assert_eq!(t[3], "0");
        assert_eq!(t[4], "");
    }

    #[test]
    fn resourcequotas() {
        assert_eq!(names("", "resourcequotas"), ["Name", "Request", "Limit", "Age"]);
        let quota = json!({
            "metadata": meta("q", 0),
            "status": {
                "hard": {"requests.cpu": "1", "pods": "10", "limits.memory": "2Gi", "limits.cpu": "2000m", "limits": "3", "configmaps": 5},
                "used": {"requests.cpu": "500m", "pods": "3", "limits.memory": "1536Mi"}
            }
        });
        assert_eq!(
            cells("", "resourcequotas", quota),
            vec![
                json!("q"),
                json!("configmaps: 0/5, limits: 0/3, pods: 3/10, requests.cpu: 500m/1"),
                json!("limits.cpu: 0/2, limits.memory: 1536Mi/2Gi"),
                json!("0s")
            ]
        );
        assert_eq!(
            cells(
                "",
                "resourcequotas",
                json!({"metadata": meta("e", 0), "spec": {"hard": {"pods": "1"}}})
            ),
            vec![json!("e"), json!(""), json!(""), json!("0s")]
        );
    }

    #[test]
    fn events_fallbacks() {
        let printer = Printer::for_resource("", "events");
        let row = |obj: Value| printer.cells(&obj, now());
        // Only eventTime set (new-style events): both times from it, count 1.
        let micro = row(json!({
            "metadata": meta("m", 0),
            "eventTime": "2025-06-01T11:59:30.123456Z",
            "involvedObject": {"kind": "Pod"},
            "reportingComponent": "",
            "reportingController": "kubelet",
            "reportingInstance": "node-1",
            "message": "  spaced out \n",
            "type": "Warning",
            "reason": "BackOff"
        }));
        assert_eq!(
            micro,
            vec![
                json!("29s"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod"),
                json!(""),
                json!("kubelet, node-1"),
                json!("spaced out"),
                json!("29s"),
                json!(1),
                json!("m")
            ]
        );
        // Series overrides last seen and count.
        let series = row(json!({
            "metadata": meta("s", 0),
            "firstTimestamp": ago(3600),
            "lastTimestamp": ago(1800),
            "count": 7,
            "series": {"count": 42, "lastObservedTime": "2025-06-01T11:59:50.000000Z"},
            "involvedObject": {"kind": "Deployment", "name": "web", "fieldPath": "spec.containers{web}"},
            "source": {"component": "deployment-controller", "host": "cp-1"},
            "reportingController": "other",
            "reportingInstance": "other"
        }));
        assert_eq!(series[0], "10s");
        assert_eq!(series[3], "deployment/web");
        assert_eq!(series[4], "spec.containers{web}");
        assert_eq!(series[5], "deployment-controller, cp-1");
        assert_eq!(series[7], "60m");
        assert_eq!(series[8], 42);
        // No last timestamp: last seen is the first seen; count 0 becomes 1.
        let first_only = row(json!({"metadata": meta("f", 0), "firstTimestamp": ago(125), "count": 0}));
        assert_eq!(first_only[0], "2m5s");
        assert_eq!(first_only[7], "2m5s");
        assert_eq!(first_only[8], 1);
        // Nothing at all.
        let empty = row(json!({"metadata": meta("e", 0)}));
        assert_eq!(
            empty,
            vec![
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!("<unknown>"),
                json!(1),
                json!("e")
            ]
        );
    }

    #[test]
    fn events_k8s_io_shape() {
        assert_eq!(names("events.k8s.io", "events"), names("", "events"));
        let event = json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": meta("n", 0),
            "eventTime": "2025-06-01T11:00:00.000000Z",
            "regarding": {"kind": "Node", "name": "n1"},
            "note": "rebooted",
            "reason": "Rebooted",
            "type": "Warning",
            "reportingController": "kubelet",
            "reportingInstance": "n1",
            "deprecatedFirstTimestamp": ago(7200),
            "deprecatedLastTimestamp": ago(60),
            "deprecatedCount": 3,
            "deprecatedSource": {"component": "kubelet-src"}
        });
        assert_eq!(
            cells("events.k8s.io", "events", event),
            vec![
                json!("60s"),
                json!("Warning"),
                json!("Rebooted"),
                json!("node/n1"),
                json!(""),
                json!("kubelet-src, n1"),
                json!("rebooted"),
                json!("120m"),
                json!(3),
                json!("n")
            ]
        );
    }

    // ----- apps --------------------------------------------------------------------

    #[test]
    fn deployments_defaults_and_status() {
        let scaled = json!({
            "metadata": meta("web", 3 * 86_400),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"tier": "fe", "app": "web"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["qa", "dev"]}, {"key": "canary", "operator": "DoesNotExist"}]}, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 1}
        });
        assert_eq!(
            cells("apps", "deployments", scaled),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(1),
                json!("3d"),
                json!("c"),
                json!("i"),
                json!("app=web,!canary,env notin (dev,qa),tier=fe")
            ]
        );
        let bare = cells("apps", "deployments", json!({"metadata": meta("bare", 0)}));
        assert_eq!(
            bare,
            vec![
                json!("bare"),
                json!("0/1"),
                json!(0),
                json!(0),
                json!("0s"),
                json!(""),
                json!(""),
                json!("")
            ]
        );
        let zero = cells(
            "apps",
            "deployments",
            json!({"metadata": meta("z", 0), "spec": {"replicas": 0, "selector": {}}}),
        );
        assert_eq!(zero[1], "0/0");
        assert_eq!(zero[7], "");
        let invalid = cells(
            "apps",
            "deployments",
            json!({"metadata": meta("i", 0), "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}}}),
        );
        assert_eq!(invalid[7], "<invalid>");
    }

    #[test]
    fn statefulsets() {
        assert_eq!(
            names("apps", "statefulsets"),
            ["Name", "Ready", "Age", "Containers", "Images"]
        );
        let sts = json!({
            "metadata": meta("db", 600),
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "pg", "image": "postgres:16"}, {"name": "exporter", "image": "exp:1"}]}}},
            "status": {"readyReplicas": 3}
        });
        assert_eq!(
            cells("apps", "statefulsets", sts),
            vec![
                json!("db"),
                json!("3/3"),
                json!("10m"),
                json!("pg,exporter"),
                json!("postgres:16,exp:1")
            ]
        );
        assert_eq!(
            cells("apps", "statefulsets", json!({"metadata": meta("e", 0)}))[1],
            "0/1"
        );
    }

    #[test]
    fn daemonsets() {
        assert_eq!(
            names("apps", "daemonsets"),
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let ds = json!({
            "metadata": meta("agent", 5 * 3600),
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux", "a": "b"}, "containers": [{"name": "agent", "image": "agent:2"}]}}},
            "status": {"desiredNumberScheduled": 5, "currentNumberScheduled": 4, "numberReady": 3, "updatedNumberScheduled": 2, "numberAvailable": 1}
        });
        assert_eq!(
            cells("apps", "daemonsets", ds),
            vec![
                json!("agent"),
                json!(5),
                json!(4),
                json!(3),
                json!(2),
                json!(1),
                json!("a=b,kubernetes.io/os=linux"),
                json!("5h"),
                json!("agent"),
                json!("agent:2"),
                json!("app=agent")
            ]
        );
        let bare = cells("apps", "daemonsets", json!({"metadata": meta("b", 0)}));
        assert_eq!(
            bare[1..7].to_vec(),
            vec![json!(0), json!(0), json!(0), json!(0), json!(0), json!("<none>")]
        );
        assert_eq!(bare[10], "<none>");
    }

    #[test]
    fn replicasets() {
        assert_eq!(
            names("apps", "replicasets"),
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let rs = json!({
            "metadata": meta("web-abc", 30),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc"}}, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
            "status": {"replicas": 2, "readyReplicas": 1}
        });
        assert_eq!(
            cells("apps", "replicasets", rs),
            vec![
                json!("web-abc"),
                json!(2),
                json!(2),
                json!(1),
                json!("30s"),
                json!("web"),
                json!("nginx"),
                json!("app=web,pod-template-hash=abc")
            ]
        );
        let bare = cells(
            "apps",
            "replicasets",
            json!({"metadata": meta("b", 0), "spec": {"selector": {"matchLabels": {"bad key": "x"}}}}),
        );
        assert_eq!(bare[1..4].to_vec(), vec![json!(1), json!(0), json!(0)]);
        assert_eq!(bare[7], "<error>");
    }

    // ----- batch ---------------------------------------------------------------------

    #[test]
    fn jobs() {
        assert_eq!(
            names("batch", "jobs"),
            [
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let complete = json!({
            "metadata": meta("pi", 7200),
            "spec": {"completions": 3, "parallelism": 2, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
            "status": {"succeeded": 3, "startTime": ago(7000), "completionTime": ago(6000), "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}
        });
        assert_eq!(
            cells("batch", "jobs", complete),
            vec![
                json!("pi"),
                json!("Complete"),
                json!("3/3"),
                json!("16m"),
                json!("120m"),
                json!("pi"),
                json!("perl"),
                json!("batch.kubernetes.io/controller-uid=u")
            ]
        );
        let running = json!({"metadata": meta("r", 100), "spec": {"parallelism": 4}, "status": {"succeeded": 1, "startTime": ago(90)}});
        let r = cells("batch", "jobs", running);
        assert_eq!(
            (&r[1], &r[2], &r[3]),
            (&json!("Running"), &json!("1/1 of 4"), &json!("90s"))
        );
        let status = |conditions: Value, deleting: bool| {
            let mut metadata = meta("j", 0);
            if deleting {
                metadata["deletionTimestamp"] = Value::from(ago(0));
            }
            cells(
                "batch",
                "jobs",
                json!({"metadata": metadata, "status": {"conditions": conditions}}),
            )[1]
            .clone()
        };
        assert_eq!(status(json!([{"type": "Failed", "status": "True"}]), false), "Failed");
        assert_eq!(status(json!([{"type": "Failed", "status": "True"}]), true), "Failed");
        assert_eq!(status(json!([]), true), "Terminating");
        assert_eq!(
            status(json!([{"type": "Suspended", "status": "True"}]), false),
            "Suspended"
        );
        assert_eq!(
            status(json!([{"type": "Suspended", "status": "False"}]), false),
            "Running"
        );
        assert_eq!(
            status(json!([{"type": "FailureTarget", "status": "True"}]), false),
            "FailureTarget"
        );
        assert_eq!(
            status(json!([{"type": "SuccessCriteriaMet", "status": "True"}]), false),
            "SuccessCriteriaMet"
        );
        // Only the first condition of a type counts.
        assert_eq!(
            status(
                json!([{"type": "Complete", "status": "False"}, {"type": "Complete", "status": "True"}]),
                false
            ),
            "Running"
        );
        let bare = cells("batch", "jobs", json!({"metadata": meta("b", 0)}));
        assert_eq!(
            bare,
            vec![
                json!("b"),
                json!("Running"),
                json!("0/1"),
                json!(""),
                json!("0s"),
                json!(""),
                json!(""),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn cronjobs() {
        assert_eq!(
            names("batch", "cronjobs"),
            [
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let cj = json!({
            "metadata": meta("hello", 86_400),
            "spec": {"schedule": "*/1 * * * *", "timeZone": "Etc/UTC", "suspend": false, "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": ago(45)}
        });
        assert_eq!(
            cells("batch", "cronjobs", cj),
            vec![
                json!("hello"),
                json!("*/1 * * * *"),
                json!("Etc/UTC"),
                json!("False"),
                json!(1),
                json!("45s"),
                json!("24h"),
                json!("hello"),
                json!("busybox"),
                json!("<none>")
            ]
        );
        let suspended = cells(
            "batch",
            "cronjobs",
            json!({"metadata": meta("s", 0), "spec": {"suspend": true}}),
        );
        assert_eq!(
            (&suspended[2], &suspended[3], &suspended[4], &suspended[5]),
            (&json!("<none>"), &json!("True"), &json!(0), &json!("<none>"))
        );
        assert_eq!(
            cells("batch", "cronjobs", json!({"metadata": meta("u", 0)}))[3],
            "<unset>"
        );
        let printer = Printer::for_resource("batch", "cronjobs");
        assert_eq!(&*printer.columns()[3].type_, "boolean");
    }

    // ----- networking / policy / autoscaling ---------------------------------------------

    #[test]
    fn ingresses() {
        assert_eq!(
            names("networking.k8s.io", "ingresses"),
            ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
        );
        let ing = json!({
            "metadata": meta("web", 0),
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com"}, {"http": {}}, {"host": "b.example.com"}], "tls": [{"hosts": ["a.example.com"]}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"hostname": "lb.example.com"}]}}
        });
        assert_eq!(
            cells("networking.k8s.io", "ingresses", ing),
            vec![
                json!("web"),
                json!("nginx"),
                json!("a.example.com,b.example.com"),
                json!("10.0.0.9,lb.example.com"),
                json!("80, 443"),
                json!("0s")
            ]
        );
        let many = json!({
            "metadata": meta("many", 0),
            "spec": {"rules": [{"host": "1"}, {}, {"host": "2"}, {"host": "3"}, {"host": "4"}, {"host": "5"}]}
        });
        let m = cells("networking.k8s.io", "ingresses", many);
        assert_eq!(
            (&m[1], &m[2], &m[3], &m[4]),
            (&json!("<none>"), &json!("1,2,3 + 3 more..."), &json!(""), &json!("80"))
        );
        let catch_all = cells(
            "networking.k8s.io",
            "ingresses",
            json!({"metadata": meta("c", 0), "spec": {"defaultBackend": {}}}),
        );
        assert_eq!(catch_all[2], "*");
    }

    #[test]
    fn ingressclasses() {
        assert_eq!(
            names("networking.k8s.io", "ingressclasses"),
            ["Name", "Controller", "Parameters", "Age"]
        );
        let ic = json!({
            "metadata": meta("nginx", 0),
            "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}
        });
        assert_eq!(
            cells("networking.k8s.io", "ingressclasses", ic),
            vec![
                json!("nginx"),
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/external-lb"),
                json!("0s")
            ]
        );
        let core = json!({"metadata": meta("c", 0), "spec": {"controller": "x", "parameters": {"kind": "ConfigMap", "name": "cm"}}});
        assert_eq!(cells("networking.k8s.io", "ingressclasses", core)[2], "ConfigMap/cm");
        let none = json!({"metadata": meta("n", 0), "spec": {"controller": "x"}});
        assert_eq!(cells("networking.k8s.io", "ingressclasses", none)[2], "<none>");
    }

    #[test]
    fn networkpolicies() {
        assert_eq!(
            names("networking.k8s.io", "networkpolicies"),
            ["Name", "Pod-Selector", "Age"]
        );
        let np = json!({"metadata": meta("deny", 0), "spec": {"podSelector": {"matchExpressions": [{"key": "role", "operator": "In", "values": ["db", "cache"]}, {"key": "app", "operator": "Exists"}]}}});
        assert_eq!(
            cells("networking.k8s.io", "networkpolicies", np),
            vec![json!("deny"), json!("app,role in (cache,db)"), json!("0s")]
        );
        let all = json!({"metadata": meta("all", 0), "spec": {"podSelector": {}}});
        assert_eq!(cells("networking.k8s.io", "networkpolicies", all)[1], "<none>");
        assert_eq!(
            cells(
                "networking.k8s.io",
                "networkpolicies",
                json!({"metadata": meta("m", 0)})
            )[1],
            "<none>"
        );
    }

    #[test]
    fn poddisruptionbudgets() {
        assert_eq!(
            names("policy", "poddisruptionbudgets"),
            ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"]
        );
        let pdb = json!({"metadata": meta("p", 0), "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            cells("policy", "poddisruptionbudgets", pdb),
            vec![json!("p"), json!("2"), json!("N/A"), json!(1), json!("0s")]
        );
        let pct = json!({"metadata": meta("q", 0), "spec": {"maxUnavailable": "25%"}});
        assert_eq!(
            cells("policy", "poddisruptionbudgets", pct),
            vec![json!("q"), json!("N/A"), json!("25%"), json!(0), json!("0s")]
        );
    }

    #[test]
    fn horizontalpodautoscalers() {
        assert_eq!(
            names("autoscaling", "horizontalpodautoscalers"),
            ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]
        );
        let hpa = json!({
            "metadata": meta("web", 0),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1024Mi"}}}
                ]
            },
            "status": {
                "currentReplicas": 3,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45, "averageValue": "100m"}}},
                    {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "512Mi"}}}
                ]
            }
        });
        assert_eq!(
            cells("autoscaling", "horizontalpodautoscalers", hpa),
            vec![
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 45%/80%, memory: 512Mi/1Gi"),
                json!("2"),
                json!(10),
                json!(3),
                json!("0s")
            ]
        );
        let metrics =
            |specs: Value, statuses: Value| hpa_metrics(specs.as_array().unwrap(), statuses.as_array().unwrap());
        assert_eq!(metrics(json!([]), json!([])), "<none>");
        assert_eq!(
            metrics(
                json!([
                    {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "Object", "object": {"metric": {"name": "rps"}, "target": {"type": "Value", "value": "10"}}},
                    {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "30"}}}
                ]),
                json!([
                    {"type": "Pods", "pods": {"current": {"averageValue": "500"}}},
                    {"type": "Object", "object": {"current": {"value": "2500m"}}}
                ])
            ),
            "500/1k, 2500m/10 + 1 more..."
        );
        assert_eq!(
            metrics(
                json!([{"type": "External", "external": {"target": {"averageValue": "30"}}}, {"type": "External", "external": {"target": {"value": "5"}}}]),
                json!([{"type": "External", "external": {"current": {"value": "1"}}}, {"type": "External", "external": {"current": {}}}])
            ),
            "<unknown>/30 (avg), <nil>/5"
        );
        assert_eq!(
            metrics(
                json!([{"type": "Object", "object": {"target": {"averageValue": "2"}}}, {"type": "Pods", "pods": {"target": {}}}]),
                json!([{"type": "Object", "object": {"current": {"averageValue": "1500m"}}}, {"type": "Pods", "pods": {}}])
            ),
            "1500m/2 (avg), <nil>/<nil>"
        );
        assert_eq!(
            metrics(
                json!([
                    {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {"type": "Utilization"}}},
                    {"type": "ContainerResource", "containerResource": {"name": "memory", "container": "app", "target": {"averageValue": "1Gi"}}}
                ]),
                json!([{"type": "ContainerResource", "containerResource": {"current": {"averageUtilization": 12}}}])
            ),
            "cpu: 12%/<auto>, memory: <unknown>/1Gi"
        );
        assert_eq!(metrics(json!([{"type": "Weird"}]), json!([])), "<unknown type>");
        assert_eq!(
            metrics(
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"averageUtilization": 50}}}]),
                json!([])
            ),
            "cpu: <unknown>/50%"
        );
        // autoscaling/v1 objects carry the CPU target in their own fields.
        let v1 = json!({
            "metadata": meta("v1", 0),
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70},
            "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 20}
        });
        assert_eq!(
            cells("autoscaling", "horizontalpodautoscalers", v1),
            vec![
                json!("v1"),
                json!("Deployment/d"),
                json!("cpu: 20%/70%"),
                json!("<unset>"),
                json!(4),
                json!(1),
                json!("0s")
            ]
        );
        let bare = cells(
            "autoscaling",
            "horizontalpodautoscalers",
            json!({"metadata": meta("b", 0)}),
        );
        assert_eq!(
            bare,
            vec![
                json!("b"),
                json!("/"),
                json!("<none>"),
                json!("<unset>"),
                json!(0),
                json!(0),
                json!("0s")
            ]
        );
    }

    // ----- rbac / storage / scheduling / coordination --------------------------------

    #[test]
    fn rolebindings_and_clusterrolebindings() {
        assert_eq!(
            names("rbac.authorization.k8s.io", "rolebindings"),
            ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
        );
        let rb_cols = Printer::for_resource("rbac.authorization.k8s.io", "rolebindings");
        let crb_cols = Printer::for_resource("rbac.authorization.k8s.io", "clusterrolebindings");
        assert!(
            rb_cols.columns()[1]
                .description
                .starts_with("RoleRef can reference a Role")
        );
        assert!(
            crb_cols.columns()[1]
                .description
                .starts_with("RoleRef can only reference a ClusterRole")
        );
        assert_eq!(crb_cols.columns()[3].description, "Users in the clusterRoleBinding");
        let rb = json!({
            "metadata": meta("read", 0),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [
                {"kind": "User", "name": "alice"},
                {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
                {"kind": "Robot", "name": "r2"}
            ]
        });
        assert_eq!(
            cells("rbac.authorization.k8s.io", "rolebindings", rb.clone()),
            vec![
                json!("read"),
                json!("ClusterRole/view"),
                json!("0s"),
                json!("alice, bob"),
                json!("devs"),
                json!("tools/ci")
            ]
        );
        assert_eq!(
            cells("rbac.authorization.k8s.io", "clusterrolebindings", rb)[1..].to_vec(),
            vec![
                json!("ClusterRole/view"),
                json!("0s"),
                json!("alice, bob"),
                json!("devs"),
                json!("tools/ci")
            ]
        );
        let bare = cells(
            "rbac.authorization.k8s.io",
            "rolebindings",
            json!({"metadata": meta("b", 0)}),
        );
        assert_eq!(
            bare,
            vec![json!("b"), json!("/"), json!("0s"), json!(""), json!(""), json!("")]
        );
    }

    #[test]
    fn storageclasses() {
        assert_eq!(
            names("storage.k8s.io", "storageclasses"),
            [
                "Name",
                "Provisioner",
                "ReclaimPolicy",
                "VolumeBindingMode",
                "AllowVolumeExpansion",
                "Age"
            ]
        );
        let sc = json!({
            "metadata": {"name": "standard", "creationTimestamp": ago(0), "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path",
            "reclaimPolicy": "Retain",
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowVolumeExpansion": true
        });
        assert_eq!(
            cells("storage.k8s.io", "storageclasses", sc),
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Retain"),
                json!("WaitForFirstConsumer"),
                json!(true),
                json!("0s")
            ]
        );
        let beta = json!({"metadata": {"name": "b", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"});
        assert_eq!(
            cells("storage.k8s.io", "storageclasses", beta),
            vec![
                json!("b (default)"),
                json!("p"),
                json!("Delete"),
                json!("Immediate"),
                json!(false),
                json!("<unknown>")
            ]
        );
        let not_default =
            json!({"metadata": {"name": "n", "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}}});
        assert_eq!(cells("storage.k8s.io", "storageclasses", not_default)[0], "n");
    }

    #[test]
    fn priorityclasses() {
        assert_eq!(
            names("scheduling.k8s.io", "priorityclasses"),
            ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
        );
        let pc = json!({"metadata": meta("system-cluster-critical", 0), "value": 2_000_000_000, "globalDefault": false, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            cells("scheduling.k8s.io", "priorityclasses", pc),
            vec![
                json!("system-cluster-critical"),
                json!(2_000_000_000),
                json!(false),
                json!("0s"),
                json!("PreemptLowerPriority")
            ]
        );
        let bare = cells(
            "scheduling.k8s.io",
            "priorityclasses",
            json!({"metadata": meta("b", 0), "value": -5, "globalDefault": true}),
        );
        assert_eq!(bare, vec![json!("b"), json!(-5), json!(true), json!("0s"), json!("")]);
    }

    #[test]
    fn leases() {
        assert_eq!(names("coordination.k8s.io", "leases"), ["Name", "Holder", "Age"]);
        let lease = json!({"metadata": meta("kube-scheduler", 0), "spec": {"holderIdentity": "cp-1_abc"}});
        assert_eq!(
            cells("coordination.k8s.io", "leases", lease),
            vec![json!("kube-scheduler"), json!("cp-1_abc"), json!("0s")]
        );
        assert_eq!(
            cells("coordination.k8s.io", "leases", json!({"metadata": meta("l", 0)}))[1],
            ""
        );
    }

    #[test]
    fn core_group_alias() {
        assert_eq!(names("core", "configmaps"), names("", "configmaps"));
        assert_eq!(names("apps", "configmaps"), ["Name", "Created At"]);
    }

    // ----- custom resources ----------------------------------------------------------

    #[test]
    fn crd_without_columns_gets_age() {
        for cols in [json!([]), json!(null), json!({})] {
            let printer = Printer::from_printer_columns(&cols);
            let defs = serde_json::to_value(printer.columns()).unwrap();
            assert_eq!(
                defs,
                json!([
                    {"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0},
                    {"name": "Age", "type": "date", "format": "", "description": AGE_DESC, "priority": 0},
                ])
            );
            let obj = json!({"metadata": meta("w", 3600)});
            assert_eq!(printer.cells(&obj, now()), vec![json!("w"), json!("60m")]);
            // Nothing at the path: a null cell, as client-go's JSONPath finds no result.
            assert_eq!(printer.cells(&json!({}), now()), vec![json!(""), Value::Null]);
        }
    }

    #[test]
    fn crd_column_types_and_formats() {
        let printer = Printer::from_printer_columns(&json!([
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas", "priority": 1, "format": "int32"},
            {"name": "Ratio", "type": "number", "jsonPath": ".status.ratio"},
            {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
            {"name": "Started", "type": "date", "jsonPath": ".status.startTime"},
            {"name": "Spec", "type": "string", "jsonPath": ".spec"},
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nope"},
            {"name": "Odd", "type": "other", "jsonPath": ".spec.enabled"}
        ]));
        let cols = printer.columns();
        assert_eq!(cols.len(), 9);
        assert_eq!(
            (&*cols[2].name, &*cols[2].type_, &*cols[2].format, cols[2].priority),
            ("Replicas", "integer", "int32", 1)
        );
        assert_eq!(
            cols[1].description,
            "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type==\"Ready\")].status"
        );
        let obj = json!({
            "metadata": meta("w", 0),
            "spec": {"enabled": true, "z": 1, "a": {"b": "<&>"}, "list": [1.0, 2.5]},
            "status": {
                "replicas": 3.9,
                "ratio": 2.0,
                "startTime": ago(300),
                "conditions": [{"type": "Synced", "status": "True"}, {"type": "Ready", "status": "False"}]
            }
        });
        assert_eq!(
            printer.cells(&obj, now()),
            vec![
                json!("w"),
                json!("False"),
                json!(3),
                json!(2),
                json!(true),
                json!("5m"),
                json!(r#"{"a":{"b":"\u003c\u0026\u003e"},"enabled":true,"list":[1,2.5],"z":1}"#),
                Value::Null,
                Value::Null
            ]
        );
        // Type mismatches give null cells; strings print any value.
        let odd = json!({
            "metadata": meta("o", 0),
            "spec": {"enabled": "yes", "nope": null},
            "status": {"replicas": "3", "ratio": 0.25, "startTime": "yesterday", "conditions": [{"type": "Ready", "status": true}]}
        });
        assert_eq!(
            printer.cells(&odd, now()),
            vec![
                json!("o"),
                json!("true"),
                Value::Null,
                json!(0.25),
                Value::Null,
                json!("<invalid>"),
                json!(r#"{"enabled":"yes","nope":null}"#),
                json!("<no value>"),
                Value::Null
            ]
        );
        let dates = |value: Value| {
            Printer::from_printer_columns(&json!([{"name": "T", "type": "date", "jsonPath": ".t"}]))
                .cells(&json!({"t": value}), now())[1]
                .clone()
        };
        assert_eq!(dates(json!("")), "<unknown>");
        assert_eq!(dates(json!("null")), "<unknown>");
        assert_eq!(dates(json!("0001-01-01T00:00:00Z")), "<unknown>");
        assert_eq!(dates(json!(5)), Value::Null);
        assert_eq!(dates(json!(ago(-10))), "<invalid>");
        assert_eq!(dates(json!(ago(3 * 86_400))), "3d");
    }

    #[test]
    fn crd_string_columns_print_like_go() {
        let one = |value: Value| {
            Printer::from_printer_columns(&json!([{"name": "V", "type": "string", "jsonPath": ".v"}]))
                .cells(&json!({"v": value}), now())[1]
                .clone()
        };
        assert_eq!(one(json!(42)), "42");
        assert_eq!(one(json!(-7)), "-7");
        assert_eq!(one(json!(1.5)), "1.5");
        assert_eq!(one(json!(2.0)), "2");
        assert_eq!(one(json!(1e6)), "1e+06");
        assert_eq!(one(json!(123_456.0)), "123456");
        assert_eq!(one(json!(0.0001)), "0.0001");
        assert_eq!(one(json!(0.00001)), "1e-05");
        assert_eq!(one(json!(false)), "false");
        assert_eq!(one(json!([])), "[]");
        assert_eq!(
            one(json!({"b": [1, {"d": 1, "c": 2}], "a": "x"})),
            r#"{"a":"x","b":[1,{"c":2,"d":1}]}"#
        );
        assert_eq!(one(json!("plain")), "plain");
        assert_eq!(one(json!(null)), "<no value>");
    }

    #[test]
    fn crd_invalid_path_truncates_columns() {
        let printer = Printer::from_printer_columns(&json!([
            {"name": "A", "type": "string", "jsonPath": ".spec.a"},
            {"name": "Bad", "type": "string", "jsonPath": ".spec[?(@.x=="},
            {"name": "C", "type": "string", "jsonPath": ".spec.c"}
        ]));
        let names: Vec<&str> = printer.columns().iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["Name", "A"]);
        assert_eq!(
            printer.cells(&json!({"spec": {"a": "x"}}), now()),
            vec![json!(""), json!("x")]
        );
    }

    // ----- JSONPath ------------------------------------------------------------------

    fn jp(path: &str, obj: &Value) -> Option<Value> {
        jsonpath::Path::parse(path).ok()?.first(obj).cloned()
    }

    #[test]
    fn jsonpath_subset() {
        let obj = json!({
            "metadata": {"name": "n", "labels": {"app.kubernetes.io/name": "web"}, "annotations": {"a.b/c": "d"}},
            "spec": {
                "items": [{"name": "first", "n": 1}, {"name": "second", "n": 2}, {"name": "third", "n": 3}],
                "nested": {"deep": {"name": "deep-name"}}
            },
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "Fine"},
                {"type": "Synced", "status": "False"}
            ]}
        });
        assert_eq!(jp(".metadata.name", &obj), Some(json!("n")));
        assert_eq!(jp("$.metadata.name", &obj), Some(json!("n")));
        assert_eq!(
            jp(".metadata.labels.app\\.kubernetes\\.io/name", &obj),
            Some(json!("web"))
        );
        assert_eq!(jp(".metadata.annotations['a.b/c']", &obj), Some(json!("d")));
        assert_eq!(jp(".metadata.annotations[\"a.b/c\"]", &obj), Some(json!("d")));
        assert_eq!(jp(".spec.items[1].name", &obj), Some(json!("second")));
        assert_eq!(jp(".spec.items[-1].name", &obj), Some(json!("third")));
        assert_eq!(jp(".spec.items[*].name", &obj), Some(json!("first")));
        assert_eq!(jp(".spec.items[1:].name", &obj), Some(json!("second")));
        assert_eq!(jp(".spec.items[0:3:2].n", &obj), Some(json!(1)));
        assert_eq!(jp(".spec.items[2,0].name", &obj), Some(json!("third")));
        assert_eq!(jp(".spec.items[?(@.n>1)].name", &obj), Some(json!("second")));
        assert_eq!(jp(".spec.items[?(@.n >= 3)].name", &obj), Some(json!("third")));
        assert_eq!(jp(".spec.items[?(@.n<2)].name", &obj), Some(json!("first")));
        assert_eq!(jp(".spec.items[?(@.name!='first')].n", &obj), Some(json!(2)));
        assert_eq!(
            jp(".status.conditions[?(@.type==\"Ready\")].status", &obj),
            Some(json!("True"))
        );
        assert_eq!(
            jp(".status.conditions[?(@.type=='Synced')].status", &obj),
            Some(json!("False"))
        );
        assert_eq!(jp(".status.conditions[?(@.reason)].type", &obj), Some(json!("Ready")));
        assert_eq!(jp(".status.conditions[?(@.type==\"Nope\")].status", &obj), None);
        assert_eq!(jp("..deep.name", &obj), Some(json!("deep-name")));
        assert_eq!(jp(".spec.*", &obj).map(|v| v.is_array()), Some(true));
        assert_eq!(jp(".spec.nested", &obj), Some(json!({"deep": {"name": "deep-name"}})));
        assert_eq!(jp(".spec.missing.deeper", &obj), None);
        assert_eq!(jp(".spec.items[7].name", &obj), None);
        assert_eq!(jp(".metadata.name[0]", &obj), None);
        assert_eq!(jp(".metadata[?(@.x==1)]", &obj), None);
        // Comparing different kinds is an error in Go templates.
        assert_eq!(jp(".spec.items[?(@.n=='1')].name", &obj), None);
        assert_eq!(jp(".spec.items[?(@.n==1.0)].name", &obj), None);
        assert!(jsonpath::Path::parse(".spec[").is_err());
        assert!(jsonpath::Path::parse(".spec[?(@.a ~ 1)]").is_err());
        assert!(jsonpath::Path::parse("spec").is_err());
        assert!(jsonpath::Path::parse(".spec..").is_err());
    }

    // ----- helpers ---------------------------------------------------------------------

    #[test]
    fn quantities_canonicalize_like_go() {
        let q = |s: &str| canonical_quantity(s).unwrap_or_else(|| format!("raw:{s}"));
        assert_eq!(q("0"), "0");
        assert_eq!(q("0Gi"), "0");
        assert_eq!(q("1"), "1");
        assert_eq!(q("1000"), "1k");
        assert_eq!(q("1500"), "1500");
        assert_eq!(q("0.5"), "500m");
        assert_eq!(q("1.5"), "1500m");
        assert_eq!(q("2000m"), "2");
        assert_eq!(q("100m"), "100m");
        assert_eq!(q("1Gi"), "1Gi");
        assert_eq!(q("1024Mi"), "1Gi");
        assert_eq!(q("1.5Gi"), "1536Mi");
        assert_eq!(q("1000Ki"), "1000Ki");
        assert_eq!(q("1023"), "1023");
        assert_eq!(q("512Ki"), "512Ki");
        assert_eq!(q("0.5Ki"), "512");
        assert_eq!(q("100Mi"), "100Mi");
        assert_eq!(q("1G"), "1G");
        assert_eq!(q("1000M"), "1G");
        assert_eq!(q("0.1n"), "1n");
        assert_eq!(q("-1.5"), "-1500m");
        assert_eq!(q("+2k"), "2k");
        assert_eq!(q("1e3"), "1e3");
        assert_eq!(q("1E3"), "1e3");
        assert_eq!(q("1E"), "1E");
        assert_eq!(q("12e-3"), "12e-3");
        assert_eq!(q("5e0"), "5");
        assert_eq!(q(".5"), "500m");
        assert_eq!(q("abc"), "raw:abc");
        assert_eq!(q("1Zi"), "raw:1Zi");
        assert_eq!(q(""), "raw:");
        assert_eq!(quantity(&json!(2)), "2");
        assert_eq!(quantity(&json!("3000m")), "3");
        assert_eq!(quantity(&json!("junk")), "junk");
        assert_eq!(quantity_or_nil(None), "<nil>");
    }

    #[test]
    fn label_selectors_format_like_metav1() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(Some(&json!({"matchLabels": {}}))), "<none>");
        assert_eq!(
            format_label_selector(Some(&json!({"matchLabels": {"b": "2", "a": ""}}))),
            "a=,b=2"
        );
        assert_eq!(
            format_label_selector(Some(
                &json!({"matchExpressions": [{"key": "k", "operator": "In", "values": ["z", "a"]}]})
            )),
            "k in (a,z)"
        );
        assert_eq!(
            format_label_selector(Some(
                &json!({"matchExpressions": [{"key": "k", "operator": "In", "values": []}]})
            )),
            "<error>"
        );
        assert_eq!(
            format_label_selector(Some(
                &json!({"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["x"]}]})
            )),
            "<error>"
        );
        assert_eq!(
            format_label_selector(Some(&json!({"matchLabels": {"k": "bad value!"}}))),
            "<error>"
        );
        assert_eq!(
            format_label_selector(Some(&json!({"matchLabels": {"Example.com/k": "v"}}))),
            "<error>"
        );
        assert_eq!(
            format_label_selector(Some(&json!({"matchLabels": {"example.com/k": "v"}}))),
            "example.com/k=v"
        );
        assert_eq!(format_label_selector(Some(&json!("nope"))), "<error>");
        assert_eq!(selector_string(None), Ok(None));
        assert_eq!(selector_string(Some(&json!({}))), Ok(Some(String::new())));
        assert!(is_qualified_name("a"));
        assert!(is_qualified_name("a-b_c.d"));
        assert!(!is_qualified_name("-a"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(!is_qualified_name("/a"));
        assert!(!is_qualified_name(&"a".repeat(64)));
        assert!(is_label_value(""));
        assert!(!is_label_value("a "));
    }

    #[test]
    fn label_maps_sort_by_pair() {
        assert_eq!(format_labels(None), "<none>");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        // Go sorts the "k=v" strings, so "a.b=…" precedes "a=…".
        assert_eq!(format_labels(Some(&json!({"a": "x", "a.b": "y"}))), "a.b=y,a=x");
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float_v(0.0), "0");
        assert_eq!(go_float_v(1.0), "1");
        assert_eq!(go_float_v(-2.5), "-2.5");
        assert_eq!(go_float_v(100_000.0), "100000");
        assert_eq!(go_float_v(999_999.0), "999999");
        assert_eq!(go_float_v(1_000_000.0), "1e+06");
        assert_eq!(go_float_v(1_234_567.0), "1.234567e+06");
        assert_eq!(go_float_v(1e21), "1e+21");
        assert_eq!(go_float_v(0.001), "0.001");
        assert_eq!(go_float_v(0.000_123), "0.000123");
        assert_eq!(go_float_v(0.000_012_3), "1.23e-05");
        assert_eq!(go_float_v(-1e-100), "-1e-100");
        assert_eq!(float_cell(3.0), json!(3));
        assert_eq!(float_cell(-0.5), json!(-0.5));
    }

    #[test]
    fn columns_serialize_with_kube_field_names() {
        let col = Column {
            name: Cow::Borrowed("X"),
            type_: Cow::Borrowed("integer"),
            format: Cow::Owned("int64".to_owned()),
            description: Cow::Borrowed("d"),
            priority: 2,
        };
        assert_eq!(
            serde_json::to_string(&col).unwrap(),
            r#"{"name":"X","type":"integer","format":"int64","description":"d","priority":2}"#
        );
    }
}
