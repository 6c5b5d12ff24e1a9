//! Kubernetes API machinery for Ubernetes: storage with etcd semantics, the watch cache,
//! the registry of served kinds, HTTP handlers, discovery and OpenAPI.
//!
//! Data flows one way: API → store → watch cache → watchers and controllers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod crd;
pub mod crd_schema;
pub mod discovery;
pub mod error;
pub mod event_ttl;
pub mod gc;
pub mod http;
pub mod local;
pub mod metrics;
pub mod namespaces;
pub mod objects;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod selector;
pub mod serve;
pub mod server;
pub mod storage;
pub mod subresources;
pub mod table;
pub mod tls;
