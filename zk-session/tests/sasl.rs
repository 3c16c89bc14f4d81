//! SASL on every connection, in virtual time: run right after the handshake and before
//! anything else (credentials, watch re-registration, queued requests, pings); the session
//! connected only once it completes; a refusal ends the session, naming the mechanism and why;
//! the exchange runs again on the next connection.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use support::{config, get_data_reply, secs, ClientFrame, Sim};
use zk_session::ops;
use zk_session::proto::{ErrorCode, OpCode, Request, Response, SetSaslResponse};
use zk_session::sasl::{SaslExchange, SaslMechanism, SaslStep};
use zk_session::{CommonError, SessionEnd, SessionState};

/// A mechanism of two rounds: `hello`, then `answer` to the server's `challenge`, then done on
/// the server's `ok`.
#[derive(Debug)]
struct Scripted;

struct ScriptedExchange {
    answered: bool,
}

impl SaslMechanism for Scripted {
    fn name(&self) -> &str {
        "SCRIPTED"
    }

    fn start(&self, _host: &str) -> Result<Box<dyn SaslExchange>, String> {
        Ok(Box::new(ScriptedExchange { answered: false }))
    }
}

impl SaslExchange for ScriptedExchange {
    fn initial_response(&mut self) -> Result<Bytes, String> {
        Ok(Bytes::from_static(b"hello"))
    }

    fn step(&mut self, challenge: &[u8]) -> Result<SaslStep, String> {
        match (self.answered, challenge) {
            (false, b"challenge") => {
                self.answered = true;
                Ok(SaslStep::Respond(Bytes::from_static(b"answer")))
            }
            (true, b"ok") => Ok(SaslStep::Done),
            (_, other) => Err(format!("unexpected {:?}", String::from_utf8_lossy(other))),
        }
    }
}

fn sasl_sim() -> Sim {
    let mut c = config("h1:1,h2:2");
    c.sasl = Some(Arc::new(Scripted));
    c.auth.push(("digest".into(), Bytes::from_static(b"a:1")));
    Sim::new(c)
}

/// The token of a SASL frame.
fn token(frame: &ClientFrame) -> Bytes {
    match frame.request() {
        Request::Sasl(r) => r.token.clone(),
        other => panic!("expected a SASL token, got {other:?}"),
    }
}

fn answer(sim: &mut Sim, frame: &ClientFrame, token: &'static [u8]) {
    sim.reply_ok(
        frame.xid(),
        Response::Sasl(SetSaslResponse {
            token: Some(Bytes::from_static(token)),
        }),
    );
}

#[test]
fn sasl_runs_first_and_alone_then_the_connection_opens() {
    let mut sim = sasl_sim();
    let queued = sim.submit(&ops::GetData::new("/queued"));
    sim.establish(1, 30_000);
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1, "the first token alone: {frames:?}");
    assert_eq!(token(&frames[0]), Bytes::from_static(b"hello"));
    assert!(
        !sim.states().contains(&SessionState::Connected),
        "not connected before SASL completes"
    );
    // A long wait: no ping, no request while the exchange is under way.
    sim.advance(secs(12));
    assert!(
        sim.client_frames().is_empty(),
        "nothing else is sent meanwhile"
    );
    answer(&mut sim, &frames[0], b"challenge");
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(token(&frames[0]), Bytes::from_static(b"answer"));
    answer(&mut sim, &frames[0], b"ok");

    // Open: the credential first, then the queued request; the state says connected.
    let frames = sim.client_frames();
    let ops: Vec<OpCode> = frames.iter().map(|f| f.opcode()).collect();
    assert_eq!(ops, [OpCode::Auth, OpCode::GetData], "{frames:?}");
    assert_eq!(sim.states().last(), Some(&SessionState::Connected));
    sim.reply(frames[0].xid(), ErrorCode::Ok, &Response::Empty);
    sim.reply_ok(frames[1].xid(), get_data_reply(b"d"));
    assert!(sim.completion(queued).is_some_and(|c| c.result.is_ok()));

    // The next connection runs SASL again, before anything else.
    sim.drop_transport();
    let later = sim.submit(&ops::GetData::new("/later"));
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(token(&frames[0]), Bytes::from_static(b"hello"));
    answer(&mut sim, &frames[0], b"challenge");
    let frames = sim.client_frames();
    answer(&mut sim, &frames[0], b"ok");
    let frames = sim.client_frames();
    let ops: Vec<OpCode> = frames.iter().map(|f| f.opcode()).collect();
    assert_eq!(ops, [OpCode::Auth, OpCode::GetData]);
    sim.reply(frames[0].xid(), ErrorCode::Ok, &Response::Empty);
    sim.reply_ok(frames[1].xid(), get_data_reply(b"l"));
    assert!(sim.completion(later).is_some_and(|c| c.result.is_ok()));
}

#[test]
fn a_refusal_ends_the_session_naming_the_mechanism_and_the_reason() {
    let mut sim = sasl_sim();
    let queued = sim.submit(&ops::GetData::new("/queued"));
    sim.establish(1, 30_000);
    let frames = sim.client_frames();
    sim.reply(
        frames[0].xid(),
        ErrorCode::AuthFailed,
        &Response::Sasl(SetSaslResponse { token: None }),
    );
    assert_eq!(sim.states().last(), Some(&SessionState::AuthFailed));
    let end = sim.session.end_reason().cloned();
    match &end {
        Some(SessionEnd::SaslFailed { mechanism, reason }) => {
            assert_eq!(mechanism, "SCRIPTED");
            assert!(reason.contains("AUTHFAILED"), "{reason}");
        }
        other => panic!("expected SaslFailed, got {other:?}"),
    }
    assert!(sim
        .completion(queued)
        .is_some_and(|c| c.result == Err(CommonError::AuthFailed)));
    assert!(
        sim.client_frames().is_empty(),
        "nothing is sent after the end"
    );
}

#[test]
fn a_mechanism_that_cannot_go_on_ends_the_session() {
    let mut sim = sasl_sim();
    sim.establish(1, 30_000);
    let frames = sim.client_frames();
    answer(&mut sim, &frames[0], b"something else");
    assert_eq!(sim.states().last(), Some(&SessionState::AuthFailed));
    let end = sim.session.end_reason().map(ToString::to_string);
    assert_eq!(
        end.as_deref(),
        Some("SASL SCRIPTED authentication failed: unexpected \"something else\"")
    );
}
