//! A ZooKeeper client for [async-std] and [smol].
//!
//! Both runtimes are built on `async-io`, and so is this crate: sockets and timers live on
//! async-io's reactor and every call is an ordinary future. Nothing here depends on which
//! executor polls those futures, so the same client works unchanged under async-std
//! (`#[async_std::main]`, `async_std::task::block_on`, `async_std::task::spawn`) and under smol
//! (`smol::block_on`, `smol::spawn`, any `smol::Executor`).
//!
//! There is no driver task: a task awaiting a reply that has not arrived writes the requests
//! submitted since the last write (calls made together share one write) and reads the socket
//! itself, on its own thread, so a request costs no cross-thread wake-up. A small background
//! thread per session serves the session whenever no task waits (watch events, pings,
//! reconnects), and within a few milliseconds writes a request whose caller awaits something
//! else first and takes over from a task that stops polling its call, so the session never
//! depends on one.
//!
//! ```no_run
//! use zk_async_std::{Client, CreateMode};
//!
//! // smol: smol::block_on(async { ... }); async-std: async_std::task::block_on(async { ... })
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # async_io::block_on(async {
//! let client = Client::connect("127.0.0.1:2181").await?;
//! client.create("/greeting", &b"hello"[..], CreateMode::Ephemeral).await?;
//! let (data, stat) = client.get_data("/greeting").await?;
//! println!("{data:?} at version {}", stat.version);
//! client.close().await;
//! # Ok(())
//! # })
//! # }
//! ```
//!
//! The API is the one of `zk-tokio` and `zk-blocking`; see `zk_client::Client` for its
//! guarantees.
//!
//! [async-std]: https://docs.rs/async-std
//! [smol]: https://docs.rs/smol
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod assist;
mod runtime;
mod stream;
#[cfg(feature = "tls")]
mod tls;

pub use runtime::{AsyncIo, AsyncIoTransport};
pub use zk_client::api::*;

/// A ZooKeeper client for async-std and smol.
pub type Client = zk_client::Client<AsyncIo>;

/// Options for a [`Client`].
pub type ClientBuilder = zk_client::ClientBuilder<AsyncIo>;
