//! Max-in-flight limit: like kube-apiserver's `--max-requests-inflight`, requests beyond
//! the limit get 429 TooManyRequests with `Retry-After` instead of queueing without bound.
//! Watches are long-running and not counted.

use super::response::{self, Body};
use crate::error::ApiError;
use http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::Semaphore;
use tower::{Layer, Service};

/// Limits concurrently served requests.
#[derive(Clone)]
pub struct InflightLimitLayer {
    permits: Arc<Semaphore>,
}

impl InflightLimitLayer {
    /// At most `max` non-watch requests at once.
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
        }
    }
}

impl<S> Layer<S> for InflightLimitLayer {
    type Service = InflightLimit<S>;
    fn layer(&self, inner: S) -> Self::Service {
        InflightLimit {
            inner,
            permits: self.permits.clone(),
        }
    }
}

/// The service made by [`InflightLimitLayer`].
#[derive(Clone)]
pub struct InflightLimit<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

fn is_long_running<B>(req: &Request<B>) -> bool {
    req.uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"))
}

impl<S, B> Service<Request<B>> for InflightLimit<S>
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
        if is_long_running(&req) {
            return Box::pin(self.inner.call(req));
        }
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let fut = self.inner.call(req);
                Box::pin(async move {
                    let r = fut.await;
                    drop(permit);
                    r
                })
            }
            Err(_) => Box::pin(async { Ok(response::error(&ApiError::too_many_requests(1))) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::ServiceExt;

    #[tokio::test]
    async fn rejects_beyond_the_limit_with_429() {
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        let svc = tower::service_fn(move |_req: Request<()>| {
            let g = g.clone();
            async move {
                g.notified().await;
                Ok::<_, Infallible>(response::full(http::StatusCode::OK, "text/plain", "ok"))
            }
        });
        let svc = InflightLimitLayer::new(1).layer(svc);
        let first = tokio::spawn(svc.clone().oneshot(Request::new(())));
        tokio::task::yield_now().await;
        let second = svc.clone().oneshot(Request::new(())).await.expect("infallible");
        assert_eq!(second.status(), 429);
        assert_eq!(
            second.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        let watch = Request::builder()
            .uri("/api/v1/configmaps?watch=true")
            .body(())
            .expect("req");
        let w = tokio::spawn(svc.clone().oneshot(watch));
        tokio::task::yield_now().await;
        gate.notify_waiters();
        assert_eq!(first.await.expect("join").expect("infallible").status(), 200);
        assert_eq!(w.await.expect("join").expect("infallible").status(), 200);
    }
}
