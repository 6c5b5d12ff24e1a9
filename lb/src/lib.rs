//! Cross-cluster L4/L7 load balancer whose backends are a view of the watch cache; no content yet.
