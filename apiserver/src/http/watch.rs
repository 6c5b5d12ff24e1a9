//! Watch: newline-delimited JSON events, flushed one by one.

use super::handlers::{Ctx, Selectors, partial_metadata};
use super::query::Output;
use super::response::Body;
use crate::cache::{CacheEvent, CachedObject, EventType, watch_line};
use crate::error::{ApiError, ApiResult};
use crate::table::Printer;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// How each event is rendered for this watcher.
struct Renderer {
    output: Output,
    kind: String,
    api_version: String,
    printer: Option<Printer>,
    sent_columns: bool,
}

impl Renderer {
    fn line(&mut self, ty: EventType, obj: &CachedObject, ev: Option<&CacheEvent>) -> Bytes {
        if let Some(e) = ev
            && obj.rv != e.rv
        {
            // A DELETED for an object that stopped matching shows its last matching
            // state at the revision of the change, as kube-apiserver does.
            let mut v = obj.value();
            v["metadata"]["resourceVersion"] = json!(e.rv.to_string());
            let restamped = CachedObject {
                namespace: obj.namespace.clone(),
                name: obj.name.clone(),
                rv: e.rv,
                json: Bytes::from(serde_json::to_vec(&v).unwrap_or_default()),
                labels: obj.labels.clone(),
            };
            return self.line(ty, &restamped, None);
        }
        match self.output {
            Output::Object => match ev {
                Some(e) => e.line(ty, obj),
                None => watch_line(ty, &obj.json),
            },
            Output::Metadata | Output::MetadataList => {
                let body = serde_json::to_vec(&partial_metadata(&obj.value())).unwrap_or_default();
                watch_line(ty, &body)
            }
            Output::Table => {
                let Some(p) = &self.printer else {
                    return watch_line(ty, &obj.json);
                };
                let v = obj.value();
                let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": obj.rv.to_string()},
                    "rows": [{"cells": p.cells(&v, jiff::Timestamp::now()), "object": partial_metadata(&v)}]});
                // Only the first event carries the column definitions, as kube-apiserver does.
                t["columnDefinitions"] = if self.sent_columns {
                    json!([])
                } else {
                    json!(p.columns())
                };
                self.sent_columns = true;
                watch_line(ty, &serde_json::to_vec(&t).unwrap_or_default())
            }
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let (kind, api_version) = match self.output {
            Output::Table => ("Table".to_string(), "meta.k8s.io/v1".to_string()),
            Output::Metadata | Output::MetadataList => {
                ("PartialObjectMetadata".to_string(), "meta.k8s.io/v1".to_string())
            }
            Output::Object => (self.kind.clone(), self.api_version.clone()),
        };
        let obj = json!({"kind": kind, "apiVersion": api_version, "metadata": meta});
        let mut out = b"{\"type\":\"BOOKMARK\",\"object\":".to_vec();
        out.extend_from_slice(&serde_json::to_vec(&obj).unwrap_or_default());
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }
}

fn error_line(e: &ApiError) -> Bytes {
    let mut out = b"{\"type\":\"ERROR\",\"object\":".to_vec();
    out.extend_from_slice(&serde_json::to_vec(&e.to_status()).unwrap_or_default());
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// Filters events for one watcher: resource, namespace and selectors, with the
/// ADDED/DELETED transitions kube-apiserver emits when an object starts or stops matching.
struct Filter {
    prefix: Arc<str>,
    namespace: Option<String>,
    selectors: Selectors,
}

impl Filter {
    fn in_scope(&self, o: &CachedObject) -> bool {
        self.namespace.as_deref().is_none_or(|ns| o.namespace == ns) && self.selectors.matches(o)
    }

    /// The event to send for a change, if any: (type, object to show).
    fn decide<'a>(&self, ev: &'a CacheEvent) -> Option<(EventType, &'a CachedObject)> {
        if *ev.resource != *self.prefix {
            return None;
        }
        let now = self.in_scope(&ev.object);
        match ev.kind {
            EventType::Added => now.then_some((EventType::Added, &*ev.object)),
            EventType::Deleted => {
                let before = ev.prev.as_deref().map(|p| self.in_scope(p)).unwrap_or(now);
                (before || now).then_some((EventType::Deleted, &*ev.object))
            }
            EventType::Modified => {
                let before = ev.prev.as_deref().is_some_and(|p| self.in_scope(p));
                match (before, now) {
                    (true, true) => Some((EventType::Modified, &*ev.object)),
                    (false, true) => Some((EventType::Added, &*ev.object)),
                    // The object stops matching: DELETED carrying its last matching state.
                    (true, false) => ev.prev.as_deref().map(|p| (EventType::Deleted, p)),
                    (false, false) => None,
                }
            }
        }
    }
}

/// Starts a watch and returns the streaming response.
pub async fn watch(ctx: &Ctx<'_>) -> ApiResult<Response<Body>> {
    ctx.query.validate_list()?;
    let q = &ctx.query;
    let selectors = Selectors::from_query(&ctx.info, q)?;
    let prefix: Arc<str> = Arc::from(ctx.info.key_prefix());
    let send_initial = match q.send_initial_events {
        Some(b) => b,
        None => matches!(q.resource_version.as_deref(), None | Some("0")),
    };
    let from = if send_initial {
        if q.send_initial_events == Some(true) && q.resource_version.as_deref().is_none() {
            ctx.server.cache.wait_for(ctx.server.store.current_revision()).await;
        }
        None
    } else {
        match q.resource_version.as_deref() {
            None | Some("0") => Some(ctx.server.cache.revision()),
            Some(rv) => Some(rv.parse::<u64>().unwrap_or(0)),
        }
    };
    let filter = Filter {
        prefix: prefix.clone(),
        namespace: if ctx.info.namespaced {
            ctx.path.namespace.clone()
        } else {
            None
        },
        selectors,
    };
    let renderer = Renderer {
        output: ctx.output,
        kind: ctx.info.kind.clone(),
        api_version: ctx.info.api_version(),
        printer: (ctx.output == Output::Table).then(|| super::handlers::printer_for(&ctx.info)),
        sent_columns: false,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let start = ctx.server.cache.watch(&prefix, from);
    let timeout = Duration::from_secs(
        q.timeout_seconds
            .filter(|t| *t > 0)
            .unwrap_or(ctx.server.settings.max_watch_seconds),
    );
    let bookmarks = q.allow_watch_bookmarks;
    let interval = ctx.server.settings.bookmark_interval;
    // kube-apiserver 1.36 ends the initial replay with an annotated bookmark both for
    // watch-list requests and for plain watches without a resourceVersion.
    let initial_end =
        bookmarks && send_initial && (q.send_initial_events == Some(true) || q.resource_version.as_deref().is_none());
    tokio::spawn(async move {
        let run = async {
            let start = match start {
                Ok(s) => s,
                Err(too_old) => {
                    let _ = tx.send(error_line(&ApiError::expired(too_old.to_string()))).await;
                    return;
                }
            };
            stream_events(tx, start, filter, renderer, bookmarks, initial_end, interval).await;
        };
        let _ = tokio::time::timeout(timeout, run).await;
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let mut r = Response::new(StreamBody::new(stream).boxed_unsync());
    *r.status_mut() = StatusCode::OK;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    Ok(r)
}

async fn stream_events(
    tx: mpsc::Sender<Bytes>,
    start: crate::cache::WatchStart,
    filter: Filter,
    mut renderer: Renderer,
    bookmarks: bool,
    initial_end: bool,
    interval: Duration,
) {
    let mut last_rv = start.revision;
    for obj in &start.initial {
        if filter.in_scope(obj) && tx.send(renderer.line(EventType::Added, obj, None)).await.is_err() {
            return;
        }
    }
    if initial_end && tx.send(renderer.bookmark(start.revision, true)).await.is_err() {
        return;
    }
    for ev in &start.backlog {
        if let Some((ty, obj)) = filter.decide(ev)
            && tx.send(renderer.line(ty, obj, Some(ev))).await.is_err()
        {
            return;
        }
        last_rv = last_rv.max(ev.rv);
    }
    let mut live = start.live;
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tokio::select! {
            ev = live.recv() => match ev {
                Ok(ev) => {
                    if ev.rv <= last_rv {
                        continue;
                    }
                    last_rv = ev.rv;
                    if let Some((ty, obj)) = filter.decide(&ev)
                        && tx.send(renderer.line(ty, obj, Some(&ev))).await.is_err()
                    {
                        return;
                    }
                }
                // A watcher too slow to keep up is closed; clients resume from their last RV.
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick(), if bookmarks => {
                if tx.send(renderer.bookmark(last_rv, false)).await.is_err() {
                    return;
                }
            }
            _ = tx.closed() => return,
        }
    }
}
