//! A blocking ZooKeeper client: `std::net` sockets and one background I/O thread per session,
//! with no async runtime anywhere in its dependency tree.
//!
//! ```no_run
//! use std::time::Duration;
//! use zk_blocking::{Client, CreateMode, WatchEvent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::connect("127.0.0.1:2181/app")?;
//! client.create("/greeting", &b"hello"[..], CreateMode::Ephemeral)?;
//! let ((data, stat), watch) = client.get_data_and_watch("/greeting")?;
//! println!("{data:?} at version {}", stat.version);
//! client.set_data("/greeting", &b"world"[..], None)?;
//! if let Some(WatchEvent::Node { event_type, path }) = watch.wait(Some(Duration::from_secs(5))) {
//!     println!("{path}: {event_type:?}");
//! }
//! client.close();
//! # Ok(())
//! # }
//! ```
//!
//! Every call blocks until its reply (or, with [`Client::with_call_timeout`], at most a given
//! time: a timed-out call reports `RequestTimeout`, and its request may still be applied).
//! [`Client::submit`] keeps many calls in flight from one thread: it returns a [`Submitted`]
//! call to wait for later, and requests submitted together share one write.
//! Watches and session state are received with blocking `recv`, `recv_timeout`, `wait` and
//! iterators. The operations, their argument, result and error types, and the watch and state
//! semantics are those of `zk-tokio` and `zk-async-std`: the same code builds every request
//! and reads every reply.
//!
//! With the `tls` feature, [`ClientBuilder::tls`](zk_client::ClientBuilder) secures every
//! connection with rustls (for the servers' `secureClientPort`); the handshake completes before
//! the session's first byte is sent, within the connection attempt's time:
//!
//! ```no_run
//! # #[cfg(feature = "tls")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use zk_blocking::{Client, TlsOptions};
//!
//! let tls = TlsOptions::new(std::fs::read("ca.pem")?)
//!     .client_identity(std::fs::read("client.pem")?, std::fs::read("client.key")?);
//! let client = Client::builder("zk1.example.com:2281").tls(tls).connect()?;
//! # let _ = client;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tls"))]
//! # fn main() {}
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod io;
#[cfg(feature = "tls")]
mod tls;

pub use client::{Blocking, Client, ClientBuilder, Submitted};
pub use zk_client::api::*;
