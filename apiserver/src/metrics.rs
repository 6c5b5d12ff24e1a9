//! Prometheus metrics of the API server (`/metrics`).

use crate::server::ApiServer;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Renders current metrics in the Prometheus text format.
pub fn render(server: &ApiServer) -> String {
    let mut reg = Registry::default();
    let objects = Family::<Vec<(String, String)>, Gauge>::default();
    for r in server.registry().all() {
        let n = server.cache.count(&r.key_prefix());
        let group = if r.group.is_empty() {
            String::new()
        } else {
            format!(".{}", r.group)
        };
        objects
            .get_or_create(&vec![("resource".into(), format!("{}{group}", r.plural))])
            .set(n as i64);
    }
    reg.register(
        "apiserver_storage_objects",
        "Number of stored objects per resource",
        objects,
    );
    let rev = Gauge::<i64>::default();
    rev.set(server.cache.revision() as i64);
    reg.register(
        "ubernetes_store_revision",
        "Latest revision seen by the watch cache",
        rev,
    );
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        out.clear();
    }
    out
}
