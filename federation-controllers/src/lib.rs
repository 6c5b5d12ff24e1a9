//! Federation controllers. They run inside the API server's process and read its watch
//! cache through [`apiserver::local::ObjectStore`], which would let them run out of process.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clusters;
pub mod join;
pub mod kubeconfig;
pub mod member_api;
pub mod propagation;
