//! SASL authentication, part of establishing every connection: after the handshake and before
//! anything else is sent (credentials, watch re-registration, queued requests, pings), the
//! session runs the mechanism's exchange with the server, token by token, in `sasl` requests
//! (opcode 102). A refusal ends the session with [`crate::SessionEnd::SaslFailed`], naming the
//! mechanism and the reason; the exchange runs again on every new connection.
//!
//! Mechanisms sit behind two small traits, so that one needing a system library (GSSAPI) can
//! live outside this crate: a [`SaslMechanism`] starts a [`SaslExchange`] per connection.
//! [`DigestMd5`] is built in; [`Gssapi`] (Kerberos) comes with the `gssapi` feature, on the
//! system's GSSAPI library.

mod digest_md5;
#[cfg(feature = "gssapi")]
mod gssapi;

pub use digest_md5::DigestMd5;
#[cfg(feature = "gssapi")]
pub use gssapi::Gssapi;

use bytes::Bytes;

/// A SASL mechanism: its name, and a new exchange for each connection.
pub trait SaslMechanism: Send + Sync + std::fmt::Debug {
    /// The mechanism's name (`DIGEST-MD5`, `GSSAPI`).
    fn name(&self) -> &str;

    /// A new exchange, for a connection to the server `host` (as written in the connect
    /// string: some mechanisms name the server they authenticate to).
    fn start(&self, host: &str) -> Result<Box<dyn SaslExchange>, String>;
}

/// A shared mechanism is a mechanism (one configuration for several clients).
impl<M: SaslMechanism + ?Sized> SaslMechanism for std::sync::Arc<M> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn start(&self, host: &str) -> Result<Box<dyn SaslExchange>, String> {
        (**self).start(host)
    }
}

/// One run of a mechanism with a server.
pub trait SaslExchange: Send {
    /// The first token to send (empty for mechanisms whose server speaks first).
    fn initial_response(&mut self) -> Result<Bytes, String>;

    /// The server's token: what to send next, or that the exchange is complete.
    fn step(&mut self, challenge: &[u8]) -> Result<SaslStep, String>;
}

/// What an exchange does after a server's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this token and wait for the server's next one.
    Respond(Bytes),
    /// Send this last token; the server's answer to it ends the exchange.
    RespondLast(Bytes),
    /// The exchange is complete: nothing more to send.
    Done,
}
