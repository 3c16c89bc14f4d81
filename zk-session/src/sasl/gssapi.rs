//! GSSAPI (Kerberos V5), RFC 4752, on the system's GSSAPI library (the `gssapi` feature).
//!
//! The exchange: the client's first token starts a Kerberos security context with the
//! server's service principal; tokens go back and forth until the context is established
//! (with mutual authentication, the server's answer proves its identity); then the server
//! offers its security layers in a wrapped 4-byte message, and the client's wrapped answer
//! picks "no security layer" (ZooKeeper's traffic is not wrapped after authentication; use TLS
//! for confidentiality).
//!
//! The step-by-step logic ([`Exchange`]) is written against a small [`Context`] trait so that
//! it is tested without a KDC; [`Gssapi`] runs it on the system library.

use bytes::Bytes;

use super::{SaslExchange, SaslMechanism, SaslStep};

/// The security layer bit for "no security layer" (RFC 4752, section 3.3).
const NO_SECURITY_LAYER: u8 = 0x01;

/// The service name of ZooKeeper servers' principals (`zookeeper/host@REALM`), as the Java
/// client's default `zookeeper.sasl.client.username`.
pub const DEFAULT_SERVICE: &str = "zookeeper";

/// The GSSAPI mechanism: Kerberos V5 through the system's GSSAPI library (MIT krb5 or
/// Heimdal), as the Java client's `Krb5LoginModule` login does.
///
/// Credentials come from where the library finds them: the ticket cache (`KRB5CCNAME`, or
/// the default cache a `kinit` filled) or a client keytab (`KRB5_CLIENT_KTNAME`, from which
/// MIT krb5 gets and renews tickets by itself); the realm and its KDCs from `krb5.conf`
/// (`KRB5_CONFIG`). [`Gssapi::principal`] picks one principal among several in a cache
/// collection or keytab.
///
/// The server's principal is `zookeeper/<host>` in the client's default realm, `<host>` being
/// the server's host as written in the connect string (no DNS canonicalization: write the
/// hosts as their principals name them), unless [`Gssapi::service_principal`] names it.
///
/// Getting a service ticket may need a round trip to the KDC, which the library makes while
/// the session computes the first token (a blocking call, once per server until the ticket
/// expires: the library caches it).
#[derive(Debug, Clone, Default)]
pub struct Gssapi {
    principal: Option<String>,
    service_principal: Option<String>,
}

impl Gssapi {
    /// The default credentials, and the service principal `zookeeper/<host>`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Authenticates as `principal` (`alice` or `alice@EXAMPLE.COM`), which the ticket cache
    /// collection or the client keytab must hold.
    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    /// The servers' principal (`zookeeper/zk1.example.com@EXAMPLE.COM`), for every server,
    /// instead of `zookeeper/<host>`.
    pub fn service_principal(mut self, principal: impl Into<String>) -> Self {
        self.service_principal = Some(principal.into());
        self
    }

    /// The principal a connection to `host` authenticates to.
    fn service_principal_for(&self, host: &str) -> String {
        self.service_principal
            .clone()
            .unwrap_or_else(|| format!("{DEFAULT_SERVICE}/{host}"))
    }
}

impl SaslMechanism for Gssapi {
    fn name(&self) -> &str {
        "GSSAPI"
    }

    fn start(&self, host: &str) -> Result<Box<dyn SaslExchange>, String> {
        let context = system::SystemContext::new(
            self.principal.as_deref(),
            &self.service_principal_for(host),
        )?;
        Ok(Box::new(Exchange::new(context)))
    }
}

/// The part of a GSSAPI security context the exchange uses.
trait Context: Send {
    /// The next context-establishment token for the server's `token` (`None` at first), or
    /// `None` when the context is established with nothing more to send.
    fn step(&mut self, token: Option<&[u8]>) -> Result<Option<Vec<u8>>, String>;
    /// Whether the context is established.
    fn is_established(&self) -> bool;
    /// `message` with an integrity check (no encryption).
    fn wrap(&mut self, message: &[u8]) -> Result<Vec<u8>, String>;
    /// The message in a token from the server, checked.
    fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, String>;
}

/// Where the exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Establishing the security context.
    Establishing,
    /// Established: waiting for the server's wrapped security-layer offer.
    SecurityLayer,
}

/// RFC 4752's client side over a [`Context`].
struct Exchange<C> {
    context: C,
    stage: Stage,
}

impl<C: Context> Exchange<C> {
    fn new(context: C) -> Self {
        Self {
            context,
            stage: Stage::Establishing,
        }
    }
}

impl<C: Context> SaslExchange for Exchange<C> {
    fn initial_response(&mut self) -> Result<Bytes, String> {
        let token = self
            .context
            .step(None)?
            .ok_or("the security context produced no first token")?;
        if self.context.is_established() {
            self.stage = Stage::SecurityLayer;
        }
        Ok(Bytes::from(token))
    }

    fn step(&mut self, challenge: &[u8]) -> Result<SaslStep, String> {
        match self.stage {
            Stage::Establishing => {
                let token = self.context.step(Some(challenge))?;
                if self.context.is_established() {
                    // The server's next message is its security-layer offer; an empty token
                    // (mutual authentication done, nothing to add) asks for it.
                    self.stage = Stage::SecurityLayer;
                }
                Ok(SaslStep::Respond(Bytes::from(token.unwrap_or_default())))
            }
            Stage::SecurityLayer => {
                let offer = self
                    .context
                    .unwrap(challenge)
                    .map_err(|e| format!("reading the server's security-layer offer: {e}"))?;
                let choice = security_layer_choice(&offer)?;
                let token = self
                    .context
                    .wrap(&choice)
                    .map_err(|e| format!("wrapping the security-layer choice: {e}"))?;
                Ok(SaslStep::RespondLast(Bytes::from(token)))
            }
        }
    }
}

/// The client's answer to the server's security-layer offer (RFC 4752, section 3.1): "no
/// security layer", a maximum message size of 0 (which that choice requires), and no
/// authorization identity (the server uses the authenticated principal).
fn security_layer_choice(offer: &[u8]) -> Result<[u8; 4], String> {
    let [layers, ..] = offer else {
        return Err("the server's security-layer offer is empty".into());
    };
    if offer.len() != 4 {
        return Err(format!(
            "the server's security-layer offer has {} bytes, not 4",
            offer.len()
        ));
    }
    if layers & NO_SECURITY_LAYER == 0 {
        return Err(format!(
            "the server requires a security layer (offer {layers:#04x}), which ZooKeeper \
             connections do not use"
        ));
    }
    Ok([NO_SECURITY_LAYER, 0, 0, 0])
}

/// [`Context`] on the system's GSSAPI library.
mod system {
    use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext};
    use libgssapi::credential::{Cred, CredUsage};
    use libgssapi::name::Name;
    use libgssapi::oid::{OidSet, GSS_MECH_KRB5, GSS_NT_KRB5_PRINCIPAL};

    use super::Context;

    pub(super) struct SystemContext {
        context: ClientCtx,
    }

    impl SystemContext {
        /// A context from `principal`'s credentials (the default ones when `None`) to
        /// `service_principal`.
        pub(super) fn new(
            principal: Option<&str>,
            service_principal: &str,
        ) -> Result<Self, String> {
            let target = Name::new(service_principal.as_bytes(), Some(GSS_NT_KRB5_PRINCIPAL))
                .map_err(|e| format!("the service principal {service_principal:?}: {e}"))?;
            let credentials = match principal {
                None => None,
                Some(principal) => {
                    let name = Name::new(principal.as_bytes(), Some(GSS_NT_KRB5_PRINCIPAL))
                        .map_err(|e| format!("the principal {principal:?}: {e}"))?;
                    let mut mechanisms = OidSet::new();
                    mechanisms
                        .add(GSS_MECH_KRB5)
                        .map_err(|e| format!("a set of mechanisms: {e}"))?;
                    let credentials =
                        Cred::acquire(Some(&name), None, CredUsage::Initiate, Some(&mechanisms))
                            .map_err(|e| format!("the credentials of {principal}: {e}"))?;
                    Some(credentials)
                }
            };
            // As Java's client: mutual authentication, and integrity and confidentiality
            // available to the security layer (which ZooKeeper then does not use).
            let flags = CtxFlags::GSS_C_MUTUAL_FLAG
                | CtxFlags::GSS_C_INTEG_FLAG
                | CtxFlags::GSS_C_CONF_FLAG;
            let context = ClientCtx::new(credentials, target, flags, Some(GSS_MECH_KRB5));
            Ok(Self { context })
        }
    }

    impl Context for SystemContext {
        fn step(&mut self, token: Option<&[u8]>) -> Result<Option<Vec<u8>>, String> {
            self.context
                .step(token, None)
                .map(|token| token.map(|token| token.to_vec()))
                .map_err(|e| e.to_string())
        }

        fn is_established(&self) -> bool {
            self.context.is_complete()
        }

        fn wrap(&mut self, message: &[u8]) -> Result<Vec<u8>, String> {
            SecurityContext::wrap(&mut self.context, false, message)
                .map(|token| token.to_vec())
                .map_err(|e| e.to_string())
        }

        fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, String> {
            SecurityContext::unwrap(&mut self.context, token)
                .map(|message| message.to_vec())
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A context that takes `rounds` server tokens to establish, and "wraps" by prefixing
    /// `W`.
    struct Scripted {
        rounds: usize,
        steps: usize,
        established: bool,
    }

    impl Context for Scripted {
        fn step(&mut self, token: Option<&[u8]>) -> Result<Option<Vec<u8>>, String> {
            if token == Some(b"bad") {
                return Err("Ticket expired".into());
            }
            self.steps += 1;
            self.established = self.steps > self.rounds;
            Ok((!self.established || self.steps == 1).then(|| format!("t{}", self.steps).into()))
        }
        fn is_established(&self) -> bool {
            self.established
        }
        fn wrap(&mut self, message: &[u8]) -> Result<Vec<u8>, String> {
            Ok([b"W", message].concat())
        }
        fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, String> {
            token
                .strip_prefix(b"W")
                .map(<[u8]>::to_vec)
                .ok_or_else(|| "bad checksum".to_owned())
        }
    }

    fn scripted(rounds: usize) -> Exchange<Scripted> {
        Exchange::new(Scripted {
            rounds,
            steps: 0,
            established: false,
        })
    }

    #[test]
    fn mutual_authentication_then_no_security_layer() {
        let mut exchange = scripted(1);
        assert_eq!(exchange.initial_response().unwrap(), &b"t1"[..]);
        // The server's AP-REP establishes the context: an empty token asks for the offer.
        assert_eq!(
            exchange.step(b"ap-rep").unwrap(),
            SaslStep::Respond(Bytes::new())
        );
        // The offer allows "no security layer" among others; the answer picks it, wrapped.
        assert_eq!(
            exchange.step(b"W\x07\x00\x10\x00").unwrap(),
            SaslStep::RespondLast(Bytes::from_static(b"W\x01\x00\x00\x00"))
        );
    }

    #[test]
    fn a_context_established_by_the_first_token_goes_straight_to_the_offer() {
        let mut exchange = scripted(0);
        assert_eq!(exchange.initial_response().unwrap(), &b"t1"[..]);
        assert_eq!(
            exchange.step(b"W\x01\x00\x00\x00").unwrap(),
            SaslStep::RespondLast(Bytes::from_static(b"W\x01\x00\x00\x00"))
        );
    }

    #[test]
    fn failures_are_named() {
        let mut exchange = scripted(2);
        exchange.initial_response().unwrap();
        assert_eq!(exchange.step(b"bad").unwrap_err(), "Ticket expired");

        let mut exchange = scripted(0);
        exchange.initial_response().unwrap();
        let e = exchange.step(b"\x01\x00\x00\x00").unwrap_err();
        assert!(
            e.contains("security-layer offer") && e.contains("bad checksum"),
            "{e}"
        );
    }

    #[test]
    fn only_an_offer_of_no_security_layer_is_taken() {
        assert_eq!(security_layer_choice(&[0x01, 0, 0, 0]), Ok([1, 0, 0, 0]));
        assert_eq!(
            security_layer_choice(&[0x07, 0, 0xff, 0xff]),
            Ok([1, 0, 0, 0])
        );
        let e = security_layer_choice(&[0x04, 0, 0xff, 0xff]).unwrap_err();
        assert!(e.contains("requires a security layer"), "{e}");
        assert!(security_layer_choice(&[]).unwrap_err().contains("empty"));
        assert!(security_layer_choice(&[1, 0, 0])
            .unwrap_err()
            .contains("3 bytes"));
        assert!(security_layer_choice(&[1, 0, 0, 0, 0])
            .unwrap_err()
            .contains("5 bytes"));
    }

    #[test]
    fn the_service_principal_names_the_host_unless_given() {
        let gssapi = Gssapi::new();
        assert_eq!(
            gssapi.service_principal_for("zk1.example.com"),
            "zookeeper/zk1.example.com"
        );
        let gssapi = gssapi.service_principal("zookeeper/zk@EXAMPLE.COM");
        assert_eq!(
            gssapi.service_principal_for("zk1"),
            "zookeeper/zk@EXAMPLE.COM"
        );
    }
}
