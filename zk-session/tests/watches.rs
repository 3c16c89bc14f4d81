//! Watch registration, delivery and re-registration after reconnects.

mod support;

use support::{config, connected, get_data_reply, Sim};
use zk_session::ops;
use zk_session::proto::{
    AddWatchMode, ErrorCode, ErrorResponse, EventType, GetChildren2Response, OpCode, Request,
    Response, SetWatches2, Stat, StatResponse, Zxid,
};
use zk_session::{SessionState, WatchId, WatchNotice};

/// Submits `op`, answers it with `err` / `response`, and returns its watch id.
fn watch_with<O: ops::Operation>(
    sim: &mut Sim,
    op: &O,
    err: ErrorCode,
    response: Response,
) -> WatchId {
    let id = sim.submit(op);
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1, "{frames:?}");
    sim.reply(frames[0].xid(), err, &response);
    assert_eq!(sim.completions().len(), 1);
    id.watch_id()
}

fn data_watch(sim: &mut Sim, path: &str) -> WatchId {
    watch_with(
        sim,
        &ops::GetData::new(path).watch(),
        ErrorCode::Ok,
        get_data_reply(b"d"),
    )
}

fn add_watch(sim: &mut Sim, path: &str, mode: AddWatchMode) -> WatchId {
    watch_with(
        sim,
        &ops::AddWatch::new(path, mode),
        ErrorCode::Ok,
        Response::AddWatch(ErrorResponse { err: ErrorCode::Ok }),
    )
}

/// The SetWatches / SetWatches2 requests among `frames`, as SetWatches2 (empty persistent lists
/// for op 101), with their opcodes.
fn set_watches(frames: &[support::ClientFrame]) -> Vec<(OpCode, SetWatches2)> {
    frames
        .iter()
        .filter_map(|f| match f.request() {
            Request::SetWatches(s) => Some((
                OpCode::SetWatches,
                SetWatches2 {
                    relative_zxid: s.relative_zxid,
                    data_watches: s.data_watches.clone(),
                    exist_watches: s.exist_watches.clone(),
                    child_watches: s.child_watches.clone(),
                    ..Default::default()
                },
            )),
            Request::SetWatches2(s) => Some((OpCode::SetWatches2, s.clone())),
            _ => None,
        })
        .collect()
}

/// The one request the client wrote since the last look.
fn the_only_request(sim: &mut Sim) -> Request {
    let frames = sim.client_frames();
    let [frame] = frames.as_slice() else {
        panic!("expected one request, got {frames:?}");
    };
    frame.request().clone()
}

fn node(event_type: EventType, path: &str) -> WatchNotice {
    WatchNotice::Node {
        event_type,
        path: path.to_owned(),
    }
}

#[test]
fn set_watches_re_registers_one_shot_watches_relative_to_the_last_zxid_seen() {
    let mut sim = connected(config("h1:1,h2:2"));
    data_watch(&mut sim, "/d");
    watch_with(
        &mut sim,
        &ops::Exists::new("/e").watch(),
        ErrorCode::NoNode,
        Response::Empty,
    );
    watch_with(
        &mut sim,
        &ops::GetChildren::new("/c").watch(),
        ErrorCode::Ok,
        Response::GetChildren2(GetChildren2Response::default()),
    );
    // A notification (zxid -1 up to 3.8) must not move the zxid the watches are relative to.
    sim.notify(EventType::NodeCreated, "/unwatched");
    let last = sim.session.last_zxid_seen();
    assert_eq!(last, Zxid(sim.next_zxid));

    sim.reconnect(1);
    sim.events.clear();
    let frames = sim.client_frames();
    let sw = set_watches(&frames);
    assert_eq!(sw.len(), 1, "{frames:?}");
    let (op, sw) = &sw[0];
    assert_eq!(*op, OpCode::SetWatches, "no persistent watch: op 101");
    assert_eq!(sw.relative_zxid, last);
    assert_eq!(sw.data_watches, ["/d"]);
    assert_eq!(sw.exist_watches, ["/e"]);
    assert_eq!(sw.child_watches, ["/c"]);
    // Java sends SetWatches with an ordinary xid; the reply completes nothing.
    assert!(frames[0].xid().0 > 0);
    sim.reply_ok(frames[0].xid(), Response::Empty);
    assert!(sim.completions().is_empty());
    assert!(sim.lost().is_empty());
    // None of them is a persistent watch: no PossiblyMissedEvents.
    assert!(sim.watch_notices().is_empty());
}

#[test]
fn exists_on_a_missing_node_sets_an_exist_watch_but_a_failed_get_data_sets_none() {
    let mut sim = connected(config("h1:1,h2:2"));
    let exist = watch_with(
        &mut sim,
        &ops::Exists::new("/e").watch(),
        ErrorCode::NoNode,
        Response::Empty,
    );
    assert_eq!(sim.session.watch_count(), 1);
    watch_with(
        &mut sim,
        &ops::GetData::new("/g").watch(),
        ErrorCode::NoNode,
        Response::Empty,
    );
    watch_with(
        &mut sim,
        &ops::GetChildren::new("/g").watch(),
        ErrorCode::NoNode,
        Response::Empty,
    );
    assert_eq!(sim.session.watch_count(), 1);

    sim.notify(EventType::NodeCreated, "/g");
    assert!(
        sim.watch_notices().is_empty(),
        "a failed getData set a watch"
    );
    sim.notify(EventType::NodeCreated, "/e");
    assert_eq!(
        sim.watch_notices(),
        [(exist, node(EventType::NodeCreated, "/e"))]
    );
    assert_eq!(sim.session.watch_count(), 0);

    // Nothing left to re-register: no SetWatches at all.
    sim.reconnect(1);
    assert!(sim.client_frames().is_empty());
}

#[test]
fn set_watches2_is_used_only_when_a_persistent_watch_exists() {
    let mut sim = connected(config("h1:1,h2:2"));
    let data = data_watch(&mut sim, "/d");
    sim.reconnect(1);
    let frames = sim.client_frames();
    let sw = set_watches(&frames);
    assert_eq!(sw.len(), 1);
    assert_eq!(sw[0].0, OpCode::SetWatches);
    sim.reply_ok(frames[0].xid(), Response::Empty);

    let persistent = add_watch(&mut sim, "/p", AddWatchMode::Persistent);
    let recursive = add_watch(&mut sim, "/r", AddWatchMode::PersistentRecursive);
    sim.events.clear();
    sim.reconnect(1);
    let frames = sim.client_frames();
    let sw = set_watches(&frames);
    assert_eq!(sw.len(), 1, "{frames:?}");
    let (op, sw) = &sw[0];
    assert_eq!(*op, OpCode::SetWatches2);
    assert_eq!(sw.data_watches, ["/d"]);
    assert_eq!(sw.persistent_watches, ["/p"]);
    assert_eq!(sw.persistent_recursive_watches, ["/r"]);
    assert!(sw.exist_watches.is_empty() && sw.child_watches.is_empty());
    let notices = sim.watch_notices();
    assert_eq!(
        notices,
        [
            (persistent, WatchNotice::PossiblyMissedEvents),
            (recursive, WatchNotice::PossiblyMissedEvents)
        ]
    );
    assert!(notices.iter().all(|(w, _)| *w != data));
}

#[test]
fn set_watches_is_split_into_batches_of_about_128_kb_of_paths() {
    const BATCH: usize = 128 * 1024;
    let mut sim = connected(config("h1:1,h2:2"));
    let long = "x".repeat(990);
    let count = 600;
    let mut expected: Vec<String> = (0..count).map(|i| format!("/w/{i:04}{long}")).collect();
    for path in &expected {
        data_watch(&mut sim, path);
    }
    let last = sim.session.last_zxid_seen();

    sim.drop_transport();
    let queued = sim.submit(&ops::GetData::new("/after"));
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    sim.events.clear();
    let frames = sim.client_frames();
    let batches = set_watches(&frames);
    let total_bytes: usize = expected.iter().map(|p| p.len() + 4).sum();
    assert!(total_bytes > 4 * BATCH);
    assert!(
        batches.len() >= total_bytes.div_ceil(BATCH) && batches.len() <= total_bytes / BATCH + 2,
        "{} batches for {total_bytes} bytes of paths",
        batches.len()
    );
    let mut seen = Vec::new();
    for (i, (op, sw)) in batches.iter().enumerate() {
        assert_eq!(*op, OpCode::SetWatches);
        assert_eq!(sw.relative_zxid, last);
        let bytes: usize = sw.data_watches.iter().map(|p| p.len() + 4).sum();
        assert!(bytes <= BATCH, "batch {i} carries {bytes} bytes");
        if i + 1 < batches.len() {
            assert!(bytes > BATCH - 1000, "batch {i} only carries {bytes} bytes");
        }
        seen.extend(sw.data_watches.iter().cloned());
    }
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "every watch exactly once");

    // The queued request follows the batches, and replies still match in order.
    let last_frame = frames.last().expect("frames");
    assert_eq!(last_frame.opcode(), OpCode::GetData);
    assert_eq!(frames.len(), batches.len() + 1);
    for f in &frames[..batches.len()] {
        sim.reply_ok(f.xid(), Response::Empty);
    }
    assert!(sim.completions().is_empty());
    sim.reply_ok(last_frame.xid(), get_data_reply(b"d"));
    let done = sim.completions();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, queued);
    assert!(done[0].result.is_ok());
    assert!(sim.lost().is_empty());
}

#[test]
fn set_watches_batches_also_fit_a_smaller_max_frame_len() {
    let mut c = config("h1:1,h2:2");
    c.max_frame_len = 4096;
    let mut sim = connected(c);
    let long = "y".repeat(400);
    for i in 0..40 {
        data_watch(&mut sim, &format!("/w/{i:02}{long}"));
    }
    sim.reconnect(1);
    let mut wire = sim.wire.clone();
    let frames = sim.client_frames();
    let batches = set_watches(&frames);
    assert!(batches.len() > 1);
    assert_eq!(
        batches
            .iter()
            .map(|(_, sw)| sw.data_watches.len())
            .sum::<usize>(),
        40
    );
    // Every frame the client wrote respects the limit it was configured with.
    while wire.len() >= 4 {
        let len = i32::from_be_bytes([wire[0], wire[1], wire[2], wire[3]]) as usize;
        assert!(
            len <= 4096,
            "a frame of {len} bytes with max_frame_len 4096"
        );
        let _ = wire.split_to(4 + len);
    }
}

#[test]
fn persistent_watches_survive_reconnects_and_hear_they_may_have_missed_events() {
    let mut sim = connected(config("h1:1,h2:2"));
    let p = add_watch(&mut sim, "/p", AddWatchMode::Persistent);
    for round in 0..3 {
        sim.events.clear();
        sim.reconnect(1);
        assert_eq!(
            sim.watch_notices(),
            [(p, WatchNotice::PossiblyMissedEvents)],
            "round {round}"
        );
        let frames = sim.client_frames();
        let sw = set_watches(&frames);
        assert_eq!(sw.len(), 1);
        assert_eq!(sw[0].0, OpCode::SetWatches2);
        assert_eq!(sw[0].1.persistent_watches, ["/p"]);
        sim.reply_ok(frames[0].xid(), Response::Empty);
        // Still delivering, and more than once.
        for _ in 0..2 {
            sim.notify(EventType::NodeDataChanged, "/p");
            assert_eq!(
                sim.watch_notices(),
                [(p, node(EventType::NodeDataChanged, "/p"))]
            );
        }
        sim.notify(EventType::NodeChildrenChanged, "/p");
        assert_eq!(
            sim.watch_notices(),
            [(p, node(EventType::NodeChildrenChanged, "/p"))]
        );
        // A plain persistent watch does not cover descendants.
        sim.notify(EventType::NodeCreated, "/p/child");
        assert!(sim.watch_notices().is_empty());
    }
    assert_eq!(sim.session.state(), SessionState::Connected);
}

#[test]
fn recursive_watches_hear_every_descendant_but_never_children_changed() {
    let mut sim = connected(config("h1:1,h2:2"));
    let r = add_watch(&mut sim, "/r", AddWatchMode::PersistentRecursive);
    let cases = [
        (EventType::NodeCreated, "/r/a/b", true),
        (EventType::NodeDataChanged, "/r/a", true),
        (EventType::NodeDataChanged, "/r", true),
        (EventType::NodeChildrenChanged, "/r", false),
        (EventType::NodeChildrenChanged, "/r/a", false),
        (EventType::NodeCreated, "/rx", false),
        (EventType::NodeCreated, "/", false),
        (EventType::NodeDeleted, "/r/a/b", true),
        (EventType::NodeDeleted, "/r", true),
    ];
    for (event_type, path, delivered) in cases {
        sim.notify(event_type, path);
        let expected = if delivered {
            vec![(r, node(event_type, path))]
        } else {
            vec![]
        };
        assert_eq!(sim.watch_notices(), expected, "{event_type:?} on {path}");
    }
    // Kept across a reconnect as a recursive watch.
    sim.events.clear();
    sim.reconnect(1);
    let sw = set_watches(&sim.client_frames());
    assert_eq!(sw[0].1.persistent_recursive_watches, ["/r"]);
    assert_eq!(
        sim.watch_notices(),
        [(r, WatchNotice::PossiblyMissedEvents)]
    );
    sim.notify(EventType::NodeCreated, "/r/z");
    assert_eq!(
        sim.watch_notices(),
        [(r, node(EventType::NodeCreated, "/r/z"))]
    );
}

#[test]
fn one_shot_watches_fire_exactly_once_and_are_not_re_registered_after_firing() {
    let mut sim = connected(config("h1:1,h2:2"));
    let d1 = data_watch(&mut sim, "/d");
    let d2 = data_watch(&mut sim, "/d");
    let child = watch_with(
        &mut sim,
        &ops::GetChildren::new("/c").watch(),
        ErrorCode::Ok,
        Response::GetChildren2(GetChildren2Response::default()),
    );
    let exists = watch_with(
        &mut sim,
        &ops::Exists::new("/c").watch(),
        ErrorCode::Ok,
        Response::Stat(StatResponse {
            stat: Stat::default(),
        }),
    );
    let kept = data_watch(&mut sim, "/kept");

    sim.notify(EventType::NodeDataChanged, "/d");
    assert_eq!(
        sim.watch_notices(),
        [
            (d1, node(EventType::NodeDataChanged, "/d")),
            (d2, node(EventType::NodeDataChanged, "/d"))
        ]
    );
    sim.notify(EventType::NodeDataChanged, "/d");
    assert!(
        sim.watch_notices().is_empty(),
        "a one-shot watch fired twice"
    );

    // A child event fires only the child watch; the deletion then fires the data watch.
    sim.notify(EventType::NodeChildrenChanged, "/c");
    assert_eq!(
        sim.watch_notices(),
        [(child, node(EventType::NodeChildrenChanged, "/c"))]
    );
    sim.notify(EventType::NodeDeleted, "/c");
    assert_eq!(
        sim.watch_notices(),
        [(exists, node(EventType::NodeDeleted, "/c"))]
    );
    sim.notify(EventType::NodeDeleted, "/c");
    assert!(sim.watch_notices().is_empty());
    assert_eq!(sim.session.watch_count(), 1);

    // Only the watch that never fired is re-registered.
    sim.reconnect(1);
    let sw = set_watches(&sim.client_frames());
    assert_eq!(sw.len(), 1);
    assert_eq!(sw[0].1.data_watches, ["/kept"]);
    assert!(sw[0].1.child_watches.is_empty());
    sim.notify(EventType::NodeDeleted, "/kept");
    assert_eq!(
        sim.watch_notices(),
        [(kept, node(EventType::NodeDeleted, "/kept"))]
    );
}

#[test]
fn forgetting_a_watch_keeps_the_server_watch_another_pending_request_sets() {
    let mut sim = connected(config("h:1"));
    let first = data_watch(&mut sim, "/a");
    // A second watching read of the same node is in flight when the first handle goes away.
    sim.submit(&ops::GetData::new("/a").watch());
    let pending = sim.client_frames();
    assert_eq!(pending.len(), 1);
    sim.session.forget_watch(first, sim.now);
    sim.drain();
    let sent: Vec<OpCode> = sim.client_frames().iter().map(|f| f.opcode()).collect();
    assert!(
        !sent.contains(&OpCode::RemoveWatches),
        "removing the server watch would disarm the pending request's: {sent:?}"
    );
    sim.reply_ok(pending[0].xid(), get_data_reply(b"d"));
    let second = sim.completions()[0].id.watch_id();
    assert!(sim.session.has_watch(second));
    // With no request pending any more, forgetting the last registration removes it.
    sim.session.forget_watch(second, sim.now);
    sim.drain();
    let sent: Vec<OpCode> = sim.client_frames().iter().map(|f| f.opcode()).collect();
    assert_eq!(sent, [OpCode::RemoveWatches]);
}

/// Servers before 3.9 keep one watch mode per path and session (ZOOKEEPER-4466): a one-shot
/// watch on a path with a persistent watch sets no server watch, the persistent watch's events
/// serve it, and the persistent watch is kept, once its own registration is gone, until the
/// one-shot registrations it serves are gone too.
#[test]
fn one_shot_watches_share_a_persistent_watch_on_their_path_and_keep_it_while_they_need_it() {
    let mut sim = connected(config("h1:1"));
    let persistent = add_watch(&mut sim, "/p", AddWatchMode::Persistent);

    let id = sim.submit(&ops::GetData::new("/p").watch());
    let frames = sim.client_frames();
    let Request::GetData(request) = frames[0].request() else {
        panic!("expected getData, got {frames:?}");
    };
    assert!(
        !request.watch,
        "the one-shot must not replace the persistent watch"
    );
    sim.reply_ok(frames[0].xid(), get_data_reply(b"d"));
    assert_eq!(sim.completions().len(), 1);
    let one_shot = id.watch_id();

    // The persistent registration goes: its server watch stays for the one-shot.
    sim.session.forget_watch(persistent, sim.now);
    assert!(sim.client_frames().is_empty(), "nothing removed yet");

    sim.notify(EventType::NodeDataChanged, "/p");
    assert_eq!(
        sim.watch_notices(),
        [(one_shot, node(EventType::NodeDataChanged, "/p"))]
    );
    // The last registration it served fired: now the server watch goes.
    let Request::RemoveWatches(removal) = the_only_request(&mut sim) else {
        panic!("expected removeWatches");
    };
    assert_eq!(
        (removal.path.as_str(), removal.watcher_type),
        ("/p", zk_session::proto::WatcherType::Any)
    );
}

#[test]
fn a_children_watch_beside_a_recursive_one_fires_on_a_child_created_or_deleted() {
    let mut sim = connected(config("h1:1"));
    let recursive = add_watch(&mut sim, "/p", AddWatchMode::PersistentRecursive);
    let id = sim.submit(&ops::GetChildren::new("/p").watch());
    let frames = sim.client_frames();
    match frames[0].request() {
        Request::GetChildren(r) | Request::GetChildren2(r) => assert!(r.watch),
        other => panic!("expected getChildren, got {other:?}"),
    }
    sim.reply_ok(
        frames[0].xid(),
        Response::GetChildren2(GetChildren2Response {
            children: Vec::new(),
            stat: Stat::default(),
        }),
    );
    sim.completions();
    let children = id.watch_id();
    // Beside a recursive watch a children watch is set normally: the recursive one never
    // delivers NodeChildrenChanged, and on 3.8 it lives in the server's other watch table.
    sim.notify(EventType::NodeCreated, "/p/c");
    assert_eq!(
        sim.watch_notices(),
        [
            (children, node(EventType::NodeChildrenChanged, "/p")),
            (recursive, node(EventType::NodeCreated, "/p/c")),
        ]
    );
    sim.notify(EventType::NodeDeleted, "/p/c");
    assert_eq!(
        sim.watch_notices(),
        [(recursive, node(EventType::NodeDeleted, "/p/c"))],
        "the children watch fired once"
    );
}

#[test]
fn an_add_watch_whose_reply_body_carries_an_error_registers_nothing() {
    let mut sim = connected(config("h1:1"));
    let id = sim.submit(&ops::AddWatch::new("/p", AddWatchMode::Persistent));
    let frames = sim.client_frames();
    sim.reply_ok(
        frames[0].xid(),
        Response::AddWatch(ErrorResponse {
            err: ErrorCode::NoAuth,
        }),
    );
    let done = sim.completion(id).expect("completed");
    assert!(
        done.result.is_ok(),
        "the raw reply is the operation's to judge"
    );
    assert_eq!(sim.session.watch_count(), 0);
    assert!(!sim.session.has_watch(id.watch_id()));
}

/// A one-shot sent without a server watch, to share a persistent watch that is gone by the time
/// its reply comes (here: dropped while the call waited for a connection), is armed with
/// SetWatches from the reply's zxid.
#[test]
fn a_shared_one_shot_whose_persistent_watch_went_meanwhile_is_armed_with_set_watches() {
    let mut sim = connected(config("h1:1"));
    let persistent = add_watch(&mut sim, "/p", AddWatchMode::Persistent);
    sim.drop_transport();
    let id = sim.submit(&ops::GetData::new("/p").watch());
    sim.session.forget_watch(persistent, sim.now);
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    let frames = sim.client_frames();
    let get = frames
        .iter()
        .find(|f| f.opcode() == OpCode::GetData)
        .expect("the queued getData");
    let Request::GetData(request) = get.request() else {
        unreachable!()
    };
    assert!(!request.watch, "sent to share the persistent watch");
    sim.reply_ok(get.xid(), get_data_reply(b"d"));
    assert!(sim.completion(id).expect("completed").result.is_ok());
    let frames = sim.client_frames();
    let rearm: Vec<_> = set_watches(&frames);
    assert_eq!(rearm.len(), 1, "{frames:?}");
    let (op, request) = &rearm[0];
    assert_eq!(*op, OpCode::SetWatches);
    assert_eq!(request.data_watches, ["/p"]);
    assert_eq!(request.relative_zxid, sim.session.last_zxid_seen());
}

/// A 3.8 server strips a persistent watch from its data table when the path's data watches are
/// removed (ZOOKEEPER-4471): the session sets it again and says events may have been missed.
#[test]
fn removing_a_paths_data_watches_sets_its_persistent_watch_again() {
    let mut sim = connected(config("h1:1"));
    let persistent = add_watch(&mut sim, "/p", AddWatchMode::Persistent);
    let id = sim.submit(&ops::RemoveWatches::new(
        "/p",
        zk_session::proto::WatcherType::Data,
    ));
    let frames = sim.client_frames();
    sim.reply_ok(frames[0].xid(), Response::Empty);
    assert!(sim.completion(id).expect("completed").result.is_ok());
    let Request::AddWatch(request) = the_only_request(&mut sim) else {
        panic!("expected addWatch");
    };
    assert_eq!(
        (request.path.as_str(), request.mode),
        ("/p", AddWatchMode::Persistent)
    );
    assert_eq!(
        sim.watch_notices(),
        [(persistent, WatchNotice::PossiblyMissedEvents)]
    );
}

/// Only a persistent watch is kept for the one-shot registrations it serves: dropping a one-shot
/// while another request sets a watch on its path keeps no "persistent" watch there, so later
/// one-shot watches on the path still set their own.
#[test]
fn dropping_a_one_shot_beside_a_pending_watch_does_not_pass_for_a_persistent_watch() {
    let mut sim = connected(config("h1:1"));
    let first = data_watch(&mut sim, "/p");
    let pending = sim.submit(&ops::GetData::new("/p").watch());
    let frames = sim.client_frames();
    sim.session.forget_watch(first, sim.now);
    sim.reply_ok(frames[0].xid(), get_data_reply(b"d"));
    assert!(sim.completion(pending).is_some());

    sim.submit(&ops::GetChildren::new("/p").watch());
    match the_only_request(&mut sim) {
        Request::GetChildren(r) | Request::GetChildren2(r) => {
            assert!(
                r.watch,
                "no persistent watch to share: the child watch sets its own"
            )
        }
        other => panic!("expected getChildren, got {other:?}"),
    }
}

#[test]
fn a_watch_forgotten_before_its_reply_is_removed_as_the_reply_sets_it() {
    let mut sim = connected(config("h1:1"));
    let id = sim.submit(&ops::AddWatch::new("/p", AddWatchMode::PersistentRecursive));
    let xid = sim.client_frames()[0].xid();
    // The handle is dropped before the reply: the session is told at once, not after.
    sim.session.forget_watch(id.watch_id(), sim.now);
    sim.drain();
    assert!(sim.client_frames().is_empty(), "nothing to remove yet");
    sim.reply(
        xid,
        ErrorCode::Ok,
        &Response::AddWatch(ErrorResponse { err: ErrorCode::Ok }),
    );
    assert_eq!(sim.completions().len(), 1, "the call still completes once");
    assert!(!sim.session.has_watch(id.watch_id()));
    assert_eq!(sim.session.watch_count(), 0);
    match the_only_request(&mut sim) {
        Request::RemoveWatches(r) => assert_eq!(r.path, "/p"),
        other => panic!("expected the server watch removed, got {other:?}"),
    }
    // Its events find no registration.
    sim.notify(EventType::NodeCreated, "/p/child");
    assert!(sim.watch_notices().is_empty());
}

#[test]
fn a_watch_nobody_receives_is_never_set_on_the_server() {
    let mut sim = connected(config("h1:1"));
    let now = sim.now;
    let id = sim
        .session
        .submit_ignoring_watch(&ops::GetData::new("/d").watch(), None, now)
        .expect("accepted");
    // The read goes out without its watch flag: no server watch, no removal to follow.
    sim.drain();
    let frames = sim.client_frames();
    let [frame] = frames.as_slice() else {
        panic!("expected one request, got {frames:?}");
    };
    match frame.request() {
        Request::GetData(r) => assert!(!r.watch, "the watch flag was sent"),
        other => panic!("expected the getData, got {other:?}"),
    }
    sim.reply(frame.xid(), ErrorCode::Ok, &get_data_reply(b"d"));
    assert!(sim.completion(id).is_some());
    assert!(!sim.session.has_watch(id.watch_id()));
    assert!(sim.client_frames().is_empty(), "nothing follows the reply");
}

#[test]
fn a_persistent_watch_nobody_receives_is_removed_as_the_reply_sets_it() {
    let mut sim = connected(config("h1:1"));
    let now = sim.now;
    let id = sim
        .session
        .submit_ignoring_watch(
            &ops::AddWatch::new("/d", AddWatchMode::Persistent),
            None,
            now,
        )
        .expect("accepted");
    sim.drain();
    let xid = sim.client_frames()[0].xid();
    sim.reply(xid, ErrorCode::Ok, &Response::Empty);
    assert_eq!(sim.completions().len(), 1);
    assert!(!sim.session.has_watch(id.watch_id()));
    match the_only_request(&mut sim) {
        Request::RemoveWatches(r) => assert_eq!(r.path, "/d"),
        other => panic!("expected the server watch removed, got {other:?}"),
    }
}
