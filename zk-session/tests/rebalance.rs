//! Following a changed ensemble (`Session::update_hosts`), in virtual time, as the Java
//! client's `updateServerList` rebalances: a session whose server left the list moves; one
//! whose server stays in a list of the same size or smaller stays; one whose server stays in
//! a grown list moves to a new server with probability `1 - old/new`. Moving keeps the session.

mod support;

use support::{config, get_data_reply, Sim};
use zk_session::hosts::HostAddr;
use zk_session::ops;
use zk_session::{CommonError, DisconnectReason, SessionState};

fn hosts(list: &[(&str, u16)]) -> Vec<HostAddr> {
    list.iter().map(|(h, p)| HostAddr::new(*h, *p)).collect()
}

/// A session connected to one of h1..h3, with the host it is on.
fn connected_sim(seed: u64) -> (Sim, HostAddr) {
    let mut c = config("h1:1,h2:2,h3:3");
    c.seed = seed;
    let mut sim = Sim::new(c);
    let host = sim.accept_transport();
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1);
    sim.answer_connect(7, 30_000, false);
    (sim, host)
}

#[test]
fn a_session_whose_server_left_the_list_moves_and_keeps_its_session() {
    let (mut sim, on) = connected_sim(1);
    let in_flight = sim.submit(&ops::GetData::new("/x"));
    let _ = sim.client_frames();
    let remaining: Vec<HostAddr> = hosts(&[("h1", 1), ("h2", 2), ("h3", 3), ("h4", 4)])
        .into_iter()
        .filter(|h| *h != on)
        .collect();
    let now = sim.now;
    let moved = sim.session.update_hosts(remaining.clone(), now);
    sim.drain();
    assert_eq!(moved, Ok(true));
    assert_eq!(sim.lost(), [DisconnectReason::Rebalanced]);
    assert!(sim
        .completion(in_flight)
        .is_some_and(|c| c.result == Err(CommonError::ConnectionLoss)));
    let next = sim.wait_for_connect();
    assert!(remaining.contains(&next), "{next} is in the new list");
    // The list grew on the whole (3 to 3 with one new): the new host is tried first.
    assert_eq!(next, HostAddr::new("h4", 4));
    let request = sim.establish(7, 30_000);
    assert_eq!(request.session_id.0, 7, "the same session, resumed");
    assert_eq!(sim.states().last(), Some(&SessionState::Connected));
    let after = sim.submit(&ops::GetData::new("/x"));
    let xid = sim.client_frames()[0].xid();
    sim.reply_ok(xid, get_data_reply(b"d"));
    assert!(sim.completion(after).is_some_and(|c| c.result.is_ok()));
}

#[test]
fn a_session_whose_server_stays_in_a_list_no_larger_stays() {
    for seed in 1..50 {
        let (mut sim, on) = connected_sim(seed);
        let mut smaller = vec![on.clone()];
        smaller.extend(
            hosts(&[("h1", 1), ("h2", 2), ("h3", 3)])
                .into_iter()
                .filter(|h| *h != on)
                .take(1),
        );
        let now = sim.now;
        let same = hosts(&[("h3", 3), ("h1", 1), ("h2", 2)]);
        assert_eq!(
            sim.session.update_hosts(same, now),
            Ok(false),
            "seed {seed}"
        );
        assert_eq!(
            sim.session.update_hosts(smaller, now),
            Ok(false),
            "seed {seed}"
        );
        sim.drain();
        assert!(sim.lost().is_empty(), "seed {seed}: no disconnect");
    }
}

#[test]
fn a_grown_list_moves_about_one_minus_old_over_new_of_the_sessions_to_new_servers() {
    let grown = hosts(&[("h1", 1), ("h2", 2), ("h3", 3), ("h4", 4), ("h5", 5)]);
    let mut moved = 0;
    let runs = 400;
    for seed in 0..runs {
        let (mut sim, _) = connected_sim(seed);
        let now = sim.now;
        if sim.session.update_hosts(grown.clone(), now) == Ok(true) {
            moved += 1;
            let next = sim.wait_for_connect();
            assert!(
                next == HostAddr::new("h4", 4) || next == HostAddr::new("h5", 5),
                "seed {seed}: moves to a new server, not {next}"
            );
        }
    }
    // 1 - 3/5 = 0.4 expected.
    let share = moved as f64 / runs as f64;
    assert!((0.3..0.5).contains(&share), "{moved} of {runs} moved");
}

#[test]
fn an_empty_list_is_refused() {
    let (mut sim, _) = connected_sim(1);
    let now = sim.now;
    assert!(sim.session.update_hosts(Vec::new(), now).is_err());
    assert!(sim.lost().is_empty());
}
