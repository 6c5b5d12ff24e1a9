//! Federation controllers (clusters, placement, propagation, status, failover). Will read the API server's watch cache through an informer interface; no content yet.
