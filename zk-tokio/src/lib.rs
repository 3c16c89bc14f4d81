//! The `zk-tokio` adapter: drives a [`zk_session::Session`] with real I/O.
//!
//! This crate is a placeholder in the workspace layout; the adapter itself is not built yet.
//! Use [`zk_session`] directly until it is.

pub use zk_session;
