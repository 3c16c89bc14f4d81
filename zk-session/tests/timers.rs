//! Pings, read timeout, connect timeout, host rotation and reconnect back-off, in virtual time.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{config, connected, ms, secs, Sim};
use zk_session::ops;
use zk_session::proto::{
    EventType, GetDataResponse, OpCode, Response, Stat, StatResponse, Xid, Zxid,
};
use zk_session::{CommonError, DisconnectReason, HostAddr, SessionState};

fn stat_reply() -> Response {
    Response::Stat(StatResponse {
        stat: Stat::default(),
    })
}

/// Asserts that the client wrote exactly one frame, a ping.
fn assert_one_ping(sim: &mut Sim) {
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1, "expected one ping, got {frames:?}");
    assert_eq!(frames[0].xid(), Xid::PING);
    assert_eq!(frames[0].opcode(), OpCode::Ping);
}

#[test]
fn idle_connection_pings_after_nine_seconds_with_a_thirty_second_timeout() {
    let mut sim = connected(config("h1:1"));
    // T = 30 s: read timeout 20 s, ping after 20/2 - 1 = 9 s without sending.
    sim.advance(ms(8_999));
    assert!(sim.client_frames().is_empty(), "pinged before 9 s");
    sim.advance(ms(1));
    assert_one_ping(&mut sim);
    assert_eq!(sim.elapsed(), secs(9));

    // The next one comes 9 s after the last thing sent (the ping).
    sim.reply_ping();
    sim.advance(ms(8_999));
    assert!(sim.client_frames().is_empty());
    sim.advance(ms(1));
    assert_one_ping(&mut sim);
    assert_eq!(sim.elapsed(), secs(18));
}

#[test]
fn ping_interval_is_capped_at_ten_seconds_for_long_timeouts() {
    let mut sim = Sim::new(config("h1:1"));
    // T = 60 s: 40/2 - 1 = 19 s, but the client never idles longer than 10 s.
    sim.establish(1, 60_000);
    sim.client_frames();
    sim.advance(ms(9_999));
    assert!(sim.client_frames().is_empty());
    sim.advance(ms(1));
    assert_one_ping(&mut sim);
    sim.reply_ping();
    sim.advance(secs(10));
    assert_one_ping(&mut sim);
    assert_eq!(sim.elapsed(), secs(20));
}

#[test]
fn no_ping_is_sent_while_requests_flow() {
    let mut sim = connected(config("h1:1"));
    for i in 0..12 {
        sim.advance(secs(5));
        sim.submit(&ops::Exists::new(format!("/n{i}")));
        let frames = sim.client_frames();
        assert_eq!(frames.len(), 1, "at {:?}: {frames:?}", sim.elapsed());
        assert_eq!(frames[0].opcode(), OpCode::Exists);
        sim.reply_ok(frames[0].xid(), stat_reply());
    }
    assert_eq!(sim.elapsed(), secs(60));
    assert_eq!(sim.session.state(), SessionState::Connected);
    // Traffic stops: the ping follows 9 s after the last request.
    sim.advance(ms(8_999));
    assert!(sim.client_frames().is_empty());
    sim.advance(ms(1));
    assert_one_ping(&mut sim);
}

#[test]
fn ping_replies_complete_nothing_and_do_not_move_the_last_zxid() {
    let mut sim = connected(config("h1:1"));
    let id = sim.submit(&ops::GetData::new("/a"));
    let request = sim.client_frames();
    assert_eq!(request.len(), 1);
    sim.advance(secs(9));
    assert_one_ping(&mut sim);
    let zxid_before = sim.session.last_zxid_seen();
    sim.reply_ping();
    assert!(
        sim.completions().is_empty(),
        "a ping reply completed a request"
    );
    assert_eq!(sim.session.in_flight(), 1);
    assert_eq!(sim.session.last_zxid_seen(), zxid_before);

    // The request's own reply still matches it.
    sim.reply_ok(
        request[0].xid(),
        Response::GetData(GetDataResponse {
            data: Some(bytes::Bytes::from_static(b"v")),
            stat: Stat::default(),
        }),
    );
    let done = sim.completions();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, id);
    assert!(done[0].result.is_ok());
    assert_eq!(sim.session.last_zxid_seen(), Zxid(sim.next_zxid));
    assert!(sim.lost().is_empty());
}

#[test]
fn a_silent_server_is_detected_after_two_thirds_of_the_timeout() {
    let mut sim = connected(config("h1:1"));
    let conn = sim.conn_id();
    sim.advance(ms(19_999));
    assert_eq!(sim.session.state(), SessionState::Connected);
    assert!(sim.lost().is_empty());
    sim.advance(ms(1));
    assert_eq!(sim.lost(), [DisconnectReason::ReadTimeout]);
    assert_eq!(sim.session.state(), SessionState::Disconnected);
    assert_eq!(sim.disconnects(), [conn]);
}

#[test]
fn sending_requests_does_not_postpone_the_read_timeout() {
    let mut sim = connected(config("h1:1"));
    let mut ids = Vec::new();
    // The application keeps sending; the server (frozen) never answers.
    for i in 0..19 {
        sim.advance(secs(1));
        ids.push(sim.submit(&ops::GetData::new(format!("/n{i}"))));
    }
    sim.advance(ms(999));
    ids.push(sim.submit(&ops::GetData::new("/last")));
    assert_eq!(sim.session.state(), SessionState::Connected);
    assert!(sim.lost().is_empty());
    sim.advance(ms(1));
    assert_eq!(sim.elapsed(), secs(20));
    assert_eq!(sim.lost(), [DisconnectReason::ReadTimeout]);
    assert_eq!(sim.session.state(), SessionState::Disconnected);
    let done = sim.completions();
    assert_eq!(done.iter().map(|c| c.id).collect::<Vec<_>>(), ids);
    assert!(done
        .iter()
        .all(|c| c.result == Err(CommonError::ConnectionLoss)));
}

#[test]
fn any_complete_frame_received_postpones_the_read_timeout() {
    let mut sim = connected(config("h1:1"));
    // The server never answers pings but sends a notification every 15 s.
    for _ in 0..8 {
        sim.advance(secs(15));
        sim.notify(EventType::NodeDataChanged, "/unwatched");
    }
    assert!(sim.lost().is_empty());
    assert_eq!(sim.session.state(), SessionState::Connected);
    let last_heard = sim.elapsed();
    sim.advance(ms(19_999));
    assert!(sim.lost().is_empty());
    sim.advance(ms(1));
    assert_eq!(sim.lost(), [DisconnectReason::ReadTimeout]);
    assert_eq!(sim.elapsed() - last_heard, secs(20));
}

#[test]
fn connect_timeout_is_the_session_timeout_divided_by_the_host_count() {
    let mut sim = Sim::new(config("h1:1,h2:2,h3:3"));
    let (conn, _) = sim.pending_connect.clone().expect("first attempt at once");
    // The transport never opens.
    sim.advance(ms(9_999));
    assert_eq!(sim.pending_connect.as_ref().map(|c| c.0), Some(conn));
    assert!(sim.lost().is_empty());
    sim.advance(ms(1));
    assert_eq!(sim.lost(), [DisconnectReason::ConnectTimeout]);
    assert_eq!(sim.disconnects(), [conn]);
}

#[test]
fn connect_timeout_covers_a_handshake_that_is_never_answered() {
    let mut sim = Sim::new(config("h1:1,h2:2,h3:3"));
    let (conn, first_host) = sim.pending_connect.clone().expect("first attempt");
    sim.advance(secs(3));
    // A frozen server's kernel still accepts the TCP connection.
    sim.accept_transport();
    assert_eq!(sim.client_frames().len(), 1, "the ConnectRequest");
    sim.advance(ms(6_999));
    assert!(sim.lost().is_empty());
    assert_eq!(sim.conn.as_ref().map(|c| c.0), Some(conn));
    sim.advance(ms(1));
    assert_eq!(sim.lost(), [DisconnectReason::ConnectTimeout]);
    assert_eq!(sim.disconnects(), [conn]);
    assert!(sim.conn.is_none());
    assert_eq!(sim.session.state(), SessionState::Connecting);
    // The next attempt goes to another member.
    let next = sim.wait_for_connect();
    assert_ne!(next, first_host);
}

#[test]
fn connect_timeout_follows_the_negotiated_session_timeout() {
    let mut sim = Sim::new(config("h1:1,h2:2,h3:3"));
    sim.establish(1, 15_000);
    sim.drop_transport();
    sim.wait_for_connect();
    sim.events.clear();
    // 15 s negotiated / 3 hosts = 5 s.
    sim.advance(ms(4_999));
    assert!(sim.lost().is_empty());
    sim.advance(ms(1));
    assert_eq!(sim.lost(), [DisconnectReason::ConnectTimeout]);
}

/// The hosts of the first `n` attempts when every attempt is refused.
fn attempted_hosts(seed: u64, n: usize) -> Vec<HostAddr> {
    let mut c = config("h1:1,h2:2,h3:3");
    c.seed = seed;
    let mut sim = Sim::new(c);
    (0..n)
        .map(|_| {
            let host = sim.wait_for_connect();
            sim.refuse_transport();
            host
        })
        .collect()
}

#[test]
fn hosts_are_tried_once_per_pass_in_a_shuffled_order_reproducible_from_the_seed() {
    let written = [
        HostAddr::new("h1", 1),
        HostAddr::new("h2", 2),
        HostAddr::new("h3", 3),
    ];
    let mut first_passes = HashSet::new();
    for seed in 0..16 {
        let hosts = attempted_hosts(seed, 9);
        let first: HashSet<_> = hosts[..3].iter().cloned().collect();
        assert_eq!(
            first.len(),
            3,
            "seed {seed}: a host repeated in a pass: {hosts:?}"
        );
        assert_eq!(hosts[..3], hosts[3..6], "seed {seed}: passes differ");
        assert_eq!(hosts[..3], hosts[6..9], "seed {seed}: passes differ");
        assert_eq!(
            hosts,
            attempted_hosts(seed, 9),
            "seed {seed}: not reproducible"
        );
        first_passes.insert(hosts[..3].to_vec());
    }
    assert!(
        first_passes.len() > 1,
        "the order does not depend on the seed"
    );
    assert!(
        first_passes.iter().any(|order| order[..] != written[..]),
        "the list is never shuffled"
    );
}

/// The delay before each attempt after the first, when every attempt is refused at once.
fn reconnect_delays(seed: u64, attempts: usize) -> Vec<Duration> {
    let mut c = config("h1:1,h2:2,h3:3");
    c.seed = seed;
    let mut sim = Sim::new(c);
    assert!(
        sim.pending_connect.is_some(),
        "the first attempt is immediate"
    );
    (0..attempts)
        .map(|_| {
            sim.wait_for_connect();
            let refused_at = sim.now;
            sim.refuse_transport();
            assert!(
                sim.pending_connect.is_none(),
                "retried without a delay slot"
            );
            sim.wait_for_connect();
            sim.now - refused_at
        })
        .collect()
}

#[test]
fn reconnect_delay_is_a_sub_second_jitter_plus_one_second_after_each_full_pass() {
    let delays = reconnect_delays(7, 9);
    for (i, delay) in delays.iter().enumerate() {
        // Attempts 3, 6 and 9 end a pass over the three hosts.
        let floor = if (i + 1) % 3 == 0 { secs(1) } else { secs(0) };
        assert!(
            *delay >= floor && *delay < floor + secs(1),
            "delay {i} = {delay:?}, expected in [{floor:?}, {:?})",
            floor + secs(1)
        );
    }
    let distinct: HashSet<_> = delays.iter().map(|d| d.subsec_nanos()).collect();
    assert!(distinct.len() > 3, "no jitter: {delays:?}");
    assert_eq!(delays, reconnect_delays(7, 9), "not reproducible");
    assert_ne!(
        delays,
        reconnect_delays(8, 9),
        "the jitter ignores the seed"
    );
}

#[test]
fn the_first_reconnect_after_losing_a_lasting_connection_waits_only_the_jitter() {
    let mut sim = connected(config("h1:1"));
    // The connection lasts a read timeout (the client pings; the server answers).
    sim.serve_pings_for(secs(20));
    sim.drop_transport();
    let lost_at = sim.now;
    sim.wait_for_connect();
    assert!(sim.now - lost_at < secs(1));
    // That attempt ends a pass of the one-host list: the next waits 1 s more.
    let refused_at = sim.now;
    sim.refuse_transport();
    sim.wait_for_connect();
    assert!(sim.now - refused_at >= secs(1) && sim.now - refused_at < secs(2));
}

#[test]
fn a_tiny_requested_timeout_still_gives_each_attempt_a_second() {
    let mut config = config("h1:1,h2:2");
    config.session_timeout = Duration::from_millis(1);
    let sim = Sim::new(config);
    assert!(sim.pending_connect.is_some(), "an attempt starts at once");
    let deadline = sim
        .session
        .connect_deadline()
        .expect("the attempt's deadline");
    let given = deadline - sim.now;
    assert!(
        given >= zk_session::config::MIN_DERIVED_CONNECT_TIMEOUT,
        "1 ms / 2 hosts would fail every attempt; it was given {given:?}"
    );
}
