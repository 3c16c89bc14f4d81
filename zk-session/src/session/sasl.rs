//! The SASL exchange of a connection ([`crate::sasl`]): started once the handshake granted the
//! session, run token by token before anything else is sent, and on completion the connection
//! opens for requests. While it runs, nothing else leaves: credentials, watch re-registration,
//! queued requests and pings wait (a server that requires SASL closes a connection on any
//! other request first, and answers SASL out of its request pipeline).

use super::*;
use crate::sasl::{SaslExchange, SaslStep};

/// The exchange under way on the current connection.
pub(super) struct SaslRun {
    mechanism: String,
    exchange: Box<dyn SaslExchange>,
    /// The exchange's last token is out: the server's answer completes it.
    last_sent: bool,
    /// The handshake granted a read-only session (for when the connection opens).
    read_only: bool,
}

impl std::fmt::Debug for SaslRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslRun")
            .field("mechanism", &self.mechanism)
            .field("last_sent", &self.last_sent)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Whether the connection is open for requests: ready, and no SASL exchange under way.
    pub(super) fn open_for_requests(&self) -> bool {
        matches!(self.phase, Phase::Ready(_)) && self.sasl.is_none()
    }

    /// Starts the configured mechanism on the connection the handshake just granted; `false`
    /// when none is configured (the connection opens at once).
    pub(super) fn start_sasl(&mut self, read_only: bool) -> bool {
        let Some(mechanism) = self.config.sasl.clone() else {
            return false;
        };
        let name = mechanism.name().to_owned();
        let host = self.hosts.get(self.hosts.current_index()).host.clone();
        let started = mechanism.start(&host).and_then(|mut exchange| {
            let first = exchange.initial_response()?;
            Ok((exchange, first))
        });
        match started {
            Ok((exchange, first)) => {
                tracing::debug!(parent: &self.connection_span, mechanism = %name, "SASL: starting");
                self.sasl = Some(SaslRun {
                    mechanism: name,
                    exchange,
                    last_sent: false,
                    read_only,
                });
                self.send_sasl(first);
            }
            Err(reason) => self.sasl_failed(name, reason),
        }
        true
    }

    fn send_sasl(&mut self, token: Bytes) {
        let xid = self.next_xid();
        write_request(
            &mut self.control,
            xid,
            &Request::Sasl(zk_proto::GetSaslRequest { token }),
        );
        self.in_flight.push_back(InFlight {
            xid,
            op: OpCode::Sasl,
            id: None,
            after: AfterReply::Sasl,
            timed_out: None,
            watch_unwanted: false,
        });
    }

    /// The server's answer to a token.
    pub(super) fn sasl_reply(&mut self, result: &Result<Response, CommonError>, now: Instant) {
        let Some(run) = self.sasl.as_mut() else {
            return;
        };
        let token = match result {
            // A null token (the server has nothing more to say) reads as empty.
            Ok(Response::Sasl(response)) => response.token.clone().unwrap_or_default(),
            Ok(other) => {
                let reason = format!("the server answered a SASL token with {other:?}");
                let mechanism = run.mechanism.clone();
                return self.sasl_failed(mechanism, reason);
            }
            Err(CommonError::Server(
                code @ (ErrorCode::AuthFailed | ErrorCode::SessionClosedRequireSaslAuth),
            )) => {
                let mechanism = run.mechanism.clone();
                return self.sasl_failed(
                    mechanism,
                    format!("the server refused the credentials ({code})"),
                );
            }
            Err(e) => {
                let mechanism = run.mechanism.clone();
                return self.sasl_failed(mechanism, format!("the server answered: {e}"));
            }
        };
        let step = if run.last_sent {
            Ok(SaslStep::Done)
        } else {
            run.exchange.step(&token)
        };
        match step {
            Ok(SaslStep::Respond(token)) => self.send_sasl(token),
            Ok(SaslStep::RespondLast(token)) => {
                run.last_sent = true;
                self.send_sasl(token);
            }
            Ok(SaslStep::Done) => {
                let read_only = run.read_only;
                if let Some(run) = self.sasl.take() {
                    tracing::info!(
                        parent: &self.connection_span,
                        mechanism = %run.mechanism,
                        "SASL: authenticated"
                    );
                }
                self.open_connection(read_only, now);
            }
            Err(reason) => {
                let mechanism = run.mechanism.clone();
                self.sasl_failed(mechanism, reason);
            }
        }
    }

    fn sasl_failed(&mut self, mechanism: String, reason: String) {
        tracing::warn!(
            parent: &self.connection_span,
            %mechanism,
            %reason,
            "SASL authentication failed: the session ends"
        );
        self.sasl = None;
        self.terminate(SessionEnd::SaslFailed { mechanism, reason });
    }
}
