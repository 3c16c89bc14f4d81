//! A ZooKeeper client for [tokio].
//!
//! ```no_run
//! use zk_tokio::{Client, CreateMode, WatchEvent};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::connect("127.0.0.1:2181/app").await?;
//! client.create("/greeting", &b"hello"[..], CreateMode::Ephemeral).await?;
//! let ((data, stat), watch) = client.get_data_and_watch("/greeting").await?;
//! println!("{data:?} at version {}", stat.version);
//! client.set_data("/greeting", &b"world"[..], None).await?;
//! if let WatchEvent::Node { event_type, path } = watch.await {
//!     println!("{path}: {event_type:?}");
//! }
//! client.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! The client is a thin adapter: one tokio task per session owns the socket and moves bytes and
//! time between tokio and the sans-IO `zk-session` state machine, which holds every protocol
//! rule. The API is the same in `zk-async-std` and `zk-blocking`; see `zk_client::Client` for its
//! guarantees. Time comes from `tokio::time`, so tests may pause it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod runtime;
#[cfg(feature = "tls")]
mod tls;

pub use runtime::{Tokio, TokioTransport};
pub use zk_client::api::*;

/// A ZooKeeper client running on tokio.
pub type Client = zk_client::Client<Tokio>;

/// Options for a [`Client`].
pub type ClientBuilder = zk_client::ClientBuilder<Tokio>;
