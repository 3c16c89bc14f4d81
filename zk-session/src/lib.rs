//! A ZooKeeper session as a pure state machine: bytes and time go in; frames, deadlines,
//! actions and events come out. No sockets, no clock, no threads, no randomness of its own.
//!
//! # The contract
//!
//! A [`Session`] has four kinds of method:
//!
//! * **Getters** on `&self`: [`Session::state`], [`Session::session_id`],
//!   [`Session::negotiated_timeout`], [`Session::last_zxid_seen`], [`Session::in_flight`],
//!   [`Session::end_reason`], [`Session::host_failures`], [`Session::last_disconnect`],
//!   [`Session::stats`].
//! * **Inputs**, each taking `now`: the transport opened ([`Session::handle_connected`]),
//!   failed ([`Session::handle_failed`], with the cause) or closed ([`Session::handle_closed`]); bytes arrived ([`Session::handle_data`]); a
//!   deadline passed ([`Session::handle_timeout`]); a probe answered
//!   ([`Session::handle_probe_result`]). Inputs about a connection that is no longer current
//!   are ignored, so bytes from a dead socket can never corrupt a new connection. Whatever the
//!   peer sends, an input never fails and never panics: misbehaviour becomes a disconnect plus
//!   events.
//! * **Commands**: [`Session::submit`] an [`ops::Operation`] (or
//!   [`Session::submit_with_deadline`], or [`Session::submit_ignoring_watch`] when nobody will
//!   receive the watch it sets), [`Session::close`], [`Session::forget_watch`]. `Result` is
//!   only for caller mistakes and for sessions that can take no more work.
//! * **Outputs**: [`Session::poll_action`] (connect to a host, disconnect, probe a host),
//!   [`Session::poll_transmit`] (whole frames appended to a caller-owned buffer),
//!   [`Session::poll_timeout`] (the next deadline) and [`Session::poll_event`] (state changes,
//!   completions, watch notices).
//!
//! After any input or command the driver drains all four outputs; the order in which it drains
//! them does not matter, and draining gives the session no new work (polling only takes).
//! Time must never go backwards between calls. Terminal states
//! ([`SessionState::Expired`], [`SessionState::AuthFailed`], [`SessionState::Closed`]) are
//! sticky: every later submission fails at once with the terminal reason.
//!
//! # Promises
//!
//! * Every accepted request completes exactly once. After a connection loss every request in
//!   flight fails with [`CommonError::ConnectionLoss`]; nothing is silently re-sent.
//! * Requests go on the wire in submission order. While disconnected they wait (bounded by
//!   [`Config::max_in_flight`] and [`Config::queue_timeout`]) and are sent after the next
//!   handshake, behind the session's credentials and watch re-registration.
//! * The session survives the loss of a server: it keeps its id, password and last zxid,
//!   presents its credentials again and re-registers every watch (SetWatches, or SetWatches2
//!   when persistent watches exist).
//! * Expiry is never hidden: a server that declares the session expired, or that answers with
//!   another session than the one asked for, ends the session; so does 4/3 of the timeout
//!   without a server confirming the session (a completed handshake, an answered request or
//!   ping, a watch event) when [`Config::client_side_expiry`] is on. A handshake that grants
//!   session id 0 is refused like any malformed one, never taken as a new session.
//! * Liveness is judged by complete frames: a connection on which no whole frame arrived for
//!   2/3 of the timeout is dropped, however many bytes trickle in.
//! * Memory is bounded by configuration (maximum frame length, maximum requests outstanding),
//!   not by the peer. A reply larger than the maximum fails its request with
//!   [`CommonError::ReplyTooLarge`] and is skipped without dropping the connection, if it ends
//!   within the read timeout.
//! * Calls may carry a deadline ([`Config::call_timeout`], [`Session::submit_with_deadline`]):
//!   past it they complete with [`CommonError::RequestTimeout`].
//!
//! # Driving a session
//!
//! The example `examples/std_loop.rs` drives a session from a plain single-threaded loop over a
//! `std::net::TcpStream`, with no runtime at all. Its shape:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::time::Instant;
//! use zk_session::{ops, Action, Config, Event, Session};
//!
//! let mut session = Session::new(Config::new("127.0.0.1:2181").unwrap(), Instant::now()).unwrap();
//! let mut socket: Option<(zk_session::ConnectionId, TcpStream)> = None;
//! let get = ops::GetData::new("/zookeeper");
//! let id = session.submit(&get, Instant::now()).unwrap();
//! let mut out = Vec::new();
//! loop {
//!     while let Some(action) = session.poll_action() {
//!         match action {
//!             Action::Connect { conn, host } => {
//!                 let stream = TcpStream::connect((host.host.as_str(), host.port)).unwrap();
//!                 let peer = stream.peer_addr().ok();
//!                 socket = Some((conn, stream));
//!                 session.handle_connected(conn, peer, Instant::now());
//!             }
//!             Action::Disconnect { .. } => socket = None,
//!             _ => {}
//!         }
//!     }
//!     out.clear();
//!     session.poll_transmit(Instant::now(), &mut out);
//!     let (conn, stream) = socket.as_mut().unwrap();
//!     stream.write_all(&out).unwrap();
//!     while let Some(event) = session.poll_event() {
//!         if let Event::Completed(c) = event {
//!             if c.id == id {
//!                 println!("{:?}", zk_session::ops::Operation::complete(&get, c.result));
//!                 return;
//!             }
//!         }
//!     }
//!     let mut buf = [0u8; 4096];
//!     let n = stream.read(&mut buf).unwrap();
//!     session.handle_data(*conn, &buf[..n], Instant::now());
//! }
//! ```
//!
//! # Testing code built on the session
//!
//! The `testing` feature adds the `testing` module (a scripted fake server in virtual time, which
//! replays exactly and checks the draining promises above as it goes) and `fuzzing` (the
//! fuzzers' entry point). This crate's own tests, its fuzz target and its benchmarks all run on
//! that one fake server.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod ensemble;
pub mod error;
pub mod event;
#[cfg(feature = "testing")]
pub mod fuzzing;
pub mod hosts;
pub mod ops;
pub mod path;
pub mod probe;
mod rng;
pub mod sasl;
mod session;
pub mod stats;
#[cfg(feature = "testing")]
pub mod testing;
mod timer;
pub mod watches;

pub use config::{Backoff, Config, ConfigError, ConnectString};
pub use error::CommonError;
pub use event::{
    Completion, ConnectionId, DisconnectReason, Event, HostFailure, ProbeId, RequestId, SessionEnd,
    SessionState, WatchNotice,
};
pub use hosts::HostAddr;
pub use ops::{Operation, Paths};
pub use path::{Chroot, PathError};
pub use session::{Action, Session};
pub use stats::{DisconnectCounts, SessionStats};
pub use watches::{WatchId, WatchKind};

/// The wire protocol crate this session speaks, re-exported for drivers and tests.
pub use zk_proto as proto;
