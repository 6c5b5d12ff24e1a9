//! Patch engines: strategic merge patch and server-side apply (managed fields), as pure
//! functions over `serde_json::Value` and a [`schema::SchemaMeta`].

pub mod apply;
pub mod schema;
pub mod strategic;
