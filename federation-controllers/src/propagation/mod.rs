//! Propagation: policies select federated objects and member clusters; the controller
//! renders each object per cluster and server-side applies it there, watches the member
//! copies (informers) to correct drift and bring status back, and removes copies when the
//! object, the policy or the cluster goes away.

pub mod controller;
pub mod members;
pub mod policy;
pub mod queue;
pub mod render;
pub mod snapshot;
pub mod status;

pub use controller::{PropagationOptions, run};
