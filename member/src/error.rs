//! Errors of the member simulator.

use std::net::SocketAddr;

/// What can go wrong while simulating a member.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// The member's API refused a read or write.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The API's answer.
        #[source]
        source: apiserver::error::ApiError,
    },
    /// A LoadBalancer address could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// No free loopback address was left for a LoadBalancer Service.
    #[error("no free loopback address for service {0}")]
    NoAddress(String),
}

impl MemberError {
    /// Wraps an API error with what was being done.
    pub fn api(what: impl Into<String>, source: apiserver::error::ApiError) -> Self {
        Self::Api {
            what: what.into(),
            source,
        }
    }
}
