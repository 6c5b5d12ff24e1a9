//! Authentication layer: bearer tokens; anonymous access only to health and version.

use super::response::{self, Body};
use crate::error::ApiError;
use http::{Request, Response, header};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Paths anyone may read, as kube-apiserver's `system:public-info-viewer` allows.
fn is_public(path: &str) -> bool {
    matches!(path, "/version" | "/version/" | "/healthz" | "/livez" | "/readyz")
        || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

/// Compares in time independent of where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Rejects requests without a valid bearer token with a 401 Status.
#[derive(Clone)]
pub struct AuthLayer {
    token: Arc<str>,
}

impl AuthLayer {
    /// Accepts `token` as the admin bearer token.
    pub fn new(token: &str) -> Self {
        Self {
            token: Arc::from(token),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            token: self.token.clone(),
        }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    token: Arc<str>,
}

impl<S, B> Service<Request<B>> for Auth<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let has_credentials = req.headers().contains_key(header::AUTHORIZATION);
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let ok = presented.is_some_and(|t| constant_time_eq(t.as_bytes(), self.token.as_bytes()));
        // Anonymous requests may read public paths; wrong credentials are refused everywhere,
        // as kube-apiserver authenticates before it authorizes.
        if ok || (!has_credentials && is_public(req.uri().path())) {
            Box::pin(self.inner.call(req))
        } else {
            Box::pin(async { Ok(response::error(&ApiError::unauthorized())) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths() {
        assert!(is_public("/readyz"));
        assert!(is_public("/livez/ping"));
        assert!(!is_public("/api/v1/secrets"));
        assert!(!is_public("/versionx"));
    }

    #[tokio::test]
    async fn wrong_credentials_are_refused_even_on_public_paths() {
        use tower::ServiceExt;
        let ok = tower::service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::default()))
        });
        let svc = AuthLayer::new("secret").layer(ok);
        let status = |path: &str, auth: Option<&str>| {
            let svc = svc.clone();
            let mut req = Request::builder().uri(path);
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            let req = req.body(()).expect("request");
            async move { svc.oneshot(req).await.map(|r| r.status().as_u16()).unwrap_or(0) }
        };
        assert_eq!(status("/readyz", None).await, 200);
        assert_eq!(status("/version", Some("Bearer wrong")).await, 401);
        assert_eq!(status("/readyz", Some("Basic YTpi")).await, 401);
        assert_eq!(status("/api/v1/pods", None).await, 401);
        assert_eq!(status("/api/v1/pods", Some("Bearer secret")).await, 200);
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
