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

    /// Whether the API does not serve the resource at all (e.g. no pods on this server).
    pub fn is_unserved(&self) -> bool {
        matches!(self, Self::Api { source, .. } if unserved(source))
    }
}

/// Whether an API error says the resource is not served (a 404 about no object).
pub fn unserved(e: &apiserver::error::ApiError) -> bool {
    e.code == 404 && e.details.kind.is_none() && e.details.name.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use apiserver::error::{ApiError, GroupResource};

    #[test]
    fn unserved_is_a_404_about_no_object() {
        assert!(unserved(&ApiError::path_not_found()));
        let missing = ApiError::not_found(
            GroupResource {
                group: "",
                resource: "pods",
            },
            "p",
        );
        assert!(!unserved(&missing));
        assert!(MemberError::api("x", ApiError::path_not_found()).is_unserved());
    }
}
