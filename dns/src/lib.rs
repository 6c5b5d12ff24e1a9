//! Global DNS server (hickory) answering names of federated services with healthy cluster endpoints; no content yet.
