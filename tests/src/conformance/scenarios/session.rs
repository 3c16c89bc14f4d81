//! Sessions: chroot, auth, close and handles, state, real expiry, ordering, cancellation and
//! disconnection.

use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_client::ops::{
    self, AddWatchError, CreateError, GetChildrenError, GetDataError, OpError, OpResult,
    SetDataError, WatchesError,
};
use zk_client::proto::{Acl, AddWatchMode, CreateMode, EventType, Perms, WatcherType};
use zk_client::{CommonError, ConnectError, SessionState, WatchEvent};

use super::{create_node, sequence_of, sorted, KindOnly, Want};
use crate::conformance::{
    connect, ensemble_slot, expect_fired, expect_next, node_event, now_or_never,
    wait_for_calls_outstanding, wait_for_state, Adapter, Api, Connect, Env, EVENT_WAIT, SLOW_WAIT,
};
use crate::{Server, ServerOptions};

/// Under a chroot, paths are relative both ways: in arguments, in results (create, sequential
/// names, multi, get_ephemerals, sync) and in watch events (one-shot and recursive).
pub async fn chroot_applies_to_paths_in_and_out_and_to_watches<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let jail = env.path("jail");
    create_node(&zk, &jail, b"").await;
    let cz = env
        .client_with::<A>(Connect::new(format!("{}{jail}", env.connect_string())))
        .await;

    let created = cz
        .create("/a", &b"inside"[..], CreateMode::Persistent)
        .await
        .want("create under the chroot");
    assert_eq!(created.path, "/a");
    let (data, _) = zk.get_data(&format!("{jail}/a")).await.want("get_data");
    assert_eq!(&data[..], b"inside", "the node lives under the chroot");
    let sequential = cz
        .create("/s-", &b""[..], CreateMode::PersistentSequential)
        .await
        .want("sequential create under the chroot");
    assert_eq!(sequential.path, "/s-0000000001");
    let (children, _) = cz.get_children("/").await.want("get_children of /");
    assert_eq!(sorted(children), ["a", "s-0000000001"]);
    assert_eq!(cz.sync("/a").await.want("sync"), "/a");

    let results = cz
        .multi(ops::Multi::new().create(ops::Create::new("/m", &b""[..])))
        .await
        .want("multi under the chroot");
    assert!(
        matches!(&results[..], [OpResult::Created { path, .. }] if path == "/m"),
        "{results:?}"
    );
    cz.create("/e", &b""[..], CreateMode::Ephemeral)
        .await
        .want("ephemeral under the chroot");
    assert_eq!(cz.get_ephemerals("/").await.want("get_ephemerals"), ["/e"]);

    let (stat, mut watch) = cz.exists_and_watch("/b").await.want("exists_and_watch");
    assert_eq!(stat, None);
    let mut recursive = cz
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .want("recursive watch on the chroot's root");
    create_node(&zk, &format!("{jail}/b"), b"").await;
    let event = expect_fired::<A>(&mut watch, "exists watch under the chroot").await;
    assert_eq!(event, node_event(EventType::NodeCreated, "/b"));
    let event = expect_next::<A>(&mut recursive, EVENT_WAIT, "recursive watch").await;
    assert_eq!(event, node_event(EventType::NodeCreated, "/b"));
    zk.set_data(&format!("{jail}/a"), &b"x"[..], None)
        .await
        .want("set_data");
    let event = expect_next::<A>(&mut recursive, EVENT_WAIT, "recursive watch").await;
    assert_eq!(event, node_event(EventType::NodeDataChanged, "/a"));

    assert_eq!(
        cz.exists(&jail).await.want("exists"),
        None,
        "absolute paths are not visible through the chroot"
    );
}

/// A node with a creator-only ACL is guarded: the owner's digest identity reads and writes
/// it; another session gets NoAuth (except for exists) until it adds the right credential; a
/// wrong credential changes nothing.
pub async fn digest_auth_guards_acl_protected_nodes<A: Adapter>(env: Env) {
    env.client::<A>().await;
    let alice = env
        .client_with::<A>(env.options().digest("alice", "secret"))
        .await;
    let secret = env.path("secret");
    alice
        .create_with(ops::Create::new(secret.clone(), &b"private"[..]).acl(Acl::CREATOR_ALL))
        .await
        .want("create with a creator-only ACL");
    let (acl, _) = alice.get_acl(&secret).await.want("owner's get_acl");
    assert_eq!(acl.len(), 1, "{acl:?}");
    assert_eq!(acl[0].perms, Perms::ALL);
    assert_eq!(acl[0].id.scheme, "digest");
    assert!(acl[0].id.id.starts_with("alice:"), "{acl:?}");
    let (data, _) = alice.get_data(&secret).await.want("owner's get_data");
    assert_eq!(&data[..], b"private");

    let stranger = env.client::<A>().await;
    assert_eq!(
        stranger
            .get_data(&secret)
            .await
            .want_err("stranger's get_data"),
        GetDataError::NoAuth
    );
    assert_eq!(
        stranger
            .set_data(&secret, &b"mine"[..], None)
            .await
            .want_err("stranger's set_data"),
        SetDataError::NoAuth
    );
    assert_eq!(
        stranger
            .get_children(&secret)
            .await
            .want_err("stranger's get_children"),
        GetChildrenError::NoAuth
    );
    assert_eq!(
        stranger
            .create(&format!("{secret}/child"), &b""[..], CreateMode::Persistent)
            .await
            .want_err("stranger's create"),
        CreateError::NoAuth
    );
    assert!(stranger
        .exists(&secret)
        .await
        .want("exists is not ACL-checked")
        .is_some());

    stranger
        .add_auth("digest", &b"alice:wrong"[..])
        .await
        .want("add_auth with a wrong password");
    assert_eq!(
        stranger
            .get_data(&secret)
            .await
            .want_err("get_data with a wrong credential"),
        GetDataError::NoAuth
    );
    stranger
        .add_auth("digest", &b"alice:secret"[..])
        .await
        .want("add_auth with the right password");
    let (data, _) = stranger
        .get_data(&secret)
        .await
        .want("get_data with the right credential");
    assert_eq!(&data[..], b"private");
    stranger
        .set_data(&secret, &b"shared"[..], None)
        .await
        .want("set_data with the right credential");
}

/// who_am_i reports the session's identities: the client's address for everybody, plus the
/// digest user given at connection or added later.
pub async fn who_am_i_shows_the_digest_identity<A: Adapter>(env: Env) {
    let anonymous = env.client::<A>().await;
    let ids = anonymous.who_am_i().await.want("who_am_i");
    assert!(
        ids.iter().any(|c| c.auth_scheme == "ip"),
        "an anonymous session is known by its address: {ids:?}"
    );
    assert!(
        !ids.iter().any(|c| c.auth_scheme == "digest"),
        "no digest identity yet: {ids:?}"
    );

    let bob = env
        .client_with::<A>(env.options().digest("bob", "pw"))
        .await;
    let ids = bob.who_am_i().await.want("who_am_i");
    assert!(
        ids.iter()
            .any(|c| c.auth_scheme == "digest" && c.user == "bob"),
        "{ids:?}"
    );

    anonymous
        .add_auth("digest", &b"carol:pw"[..])
        .await
        .want("add_auth");
    let ids = anonymous.who_am_i().await.want("who_am_i");
    assert!(
        ids.iter()
            .any(|c| c.auth_scheme == "digest" && c.user == "carol"),
        "{ids:?}"
    );
}

/// Closing a session deletes its ephemeral nodes (plain and sequential), as another client
/// sees through a watch.
pub async fn ephemerals_vanish_after_close_seen_from_another_client<A: Adapter>(env: Env) {
    let observer = env.client::<A>().await;
    let owner = env.client_with::<A>(env.options()).await;
    let plain = env.path("plain");
    owner
        .create(&plain, &b""[..], CreateMode::Ephemeral)
        .await
        .want("create ephemeral");
    let sequential = owner
        .create(&env.path("seq-"), &b""[..], CreateMode::EphemeralSequential)
        .await
        .want("create ephemeral sequential")
        .path;
    let (stat, mut gone) = observer
        .exists_and_watch(&plain)
        .await
        .want("exists_and_watch");
    assert_eq!(
        stat.map(|s| s.ephemeral_owner),
        Some(owner.session_id()),
        "the observer sees the owner's ephemeral"
    );

    assert_eq!(owner.close().await, SessionState::Closed);
    let event = expect_fired::<A>(&mut gone, "the ephemeral's deletion").await;
    assert_eq!(event, node_event(EventType::NodeDeleted, &plain));
    assert_eq!(observer.exists(&sequential).await.want("exists"), None);
    let (children, _) = observer.get_children(env.root()).await.want("children");
    assert!(children.is_empty(), "{children:?}");
}

/// `close` returns Closed; afterwards every call (plain, watching, through any clone) fails
/// at once with Closed, close again returns Closed at once, and state observers end.
pub async fn close_returns_closed_and_later_calls_fail_at_once<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let copy = zk.clone();
    let path = env.path("node");
    create_node(&zk, &path, b"").await;
    let mut states = zk.state_watcher();
    assert_eq!(zk.close().await, SessionState::Closed);
    assert_eq!(zk.state(), SessionState::Closed);
    assert_eq!(copy.state(), SessionState::Closed);

    let closed = CommonError::Closed;
    assert_eq!(
        now_or_never(zk.get_data(&path))
            .expect("get_data fails at once")
            .kind_only(),
        Err(GetDataError::Common(closed.clone()))
    );
    assert_eq!(
        now_or_never(copy.create(&env.path("late"), &b""[..], CreateMode::Persistent))
            .expect("create fails at once")
            .kind_only(),
        Err(CreateError::Common(closed.clone()))
    );
    let watching =
        now_or_never(zk.get_data_and_watch(&path)).expect("a watching read fails at once");
    assert!(
        matches!(
            watching.as_ref().map_err(OpError::kind),
            Err(GetDataError::Common(CommonError::Closed))
        ),
        "{watching:?}"
    );
    let adding = now_or_never(zk.add_watch(&path, AddWatchMode::Persistent))
        .expect("add_watch fails at once");
    assert!(
        matches!(
            adding.as_ref().map_err(OpError::kind),
            Err(AddWatchError::Common(CommonError::Closed))
        ),
        "{adding:?}"
    );
    assert_eq!(
        now_or_never(zk.check_watches(&path, WatcherType::Any))
            .expect("fails at once")
            .kind_only(),
        Err(WatchesError::Common(closed))
    );
    assert_eq!(
        now_or_never(copy.close()).expect("a second close returns at once"),
        SessionState::Closed
    );
    loop {
        match A::next_state(&mut states, EVENT_WAIT).await {
            Ok(Some(SessionState::Closing)) => continue,
            Ok(Some(SessionState::Closed)) => break,
            other => panic!("expected Closing then Closed, got {other:?}"),
        }
    }
    assert_eq!(A::next_state(&mut states, EVENT_WAIT).await, Ok(None));
}

/// Dropping a handle while a clone lives changes nothing; dropping the last one closes the
/// session, so its ephemerals vanish long before the session could have timed out.
pub async fn dropping_the_last_handle_closes_the_session<A: Adapter>(env: Env) {
    let observer = env.client::<A>().await;
    let owner = connect::<A>(&env.options().session_timeout(Duration::from_secs(40))).await;
    let copy = owner.clone();
    let path = env.path("ephemeral");
    owner
        .create(&path, &b""[..], CreateMode::Ephemeral)
        .await
        .want("create ephemeral");
    let (_, mut gone) = observer
        .exists_and_watch(&path)
        .await
        .want("exists_and_watch");

    drop(owner);
    copy.get_data(&path)
        .await
        .want("the remaining handle still works");
    observer.sync(&path).await.want("sync");
    assert!(observer.exists(&path).await.want("exists").is_some());
    assert_eq!(
        gone.try_event(),
        None,
        "dropping one of two handles closes nothing"
    );

    let dropped = Instant::now();
    drop(copy);
    let event = expect_fired::<A>(&mut gone, "the ephemeral's deletion after the last drop").await;
    assert_eq!(event, node_event(EventType::NodeDeleted, &path));
    assert!(
        dropped.elapsed() < Duration::from_secs(40),
        "closed by the drop, not by expiry"
    );
}

/// Clones share one session: the same id, ephemerals and watches across handles, and a close
/// through one closes all.
pub async fn clones_share_one_session<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let copy = zk.clone();
    assert_eq!(copy.session_id(), zk.session_id());
    assert_eq!(copy.session_password(), zk.session_password());
    let path = env.path("ephemeral");
    let created = copy
        .create(&path, &b""[..], CreateMode::Ephemeral)
        .await
        .want("create through the clone");
    assert_eq!(created.stat.ephemeral_owner, zk.session_id());
    assert_eq!(
        zk.get_ephemerals(env.root()).await.want("get_ephemerals"),
        std::slice::from_ref(&path)
    );

    let (_, mut watch) = copy.get_data_and_watch(&path).await.want("watch");
    zk.set_data(&path, &b"x"[..], None).await.want("set_data");
    let event = expect_fired::<A>(&mut watch, "watch set through the clone").await;
    assert_eq!(event, node_event(EventType::NodeDataChanged, &path));

    drop(copy);
    zk.get_data(&path)
        .await
        .want("get_data after dropping the clone");
    let last = zk.clone();
    assert_eq!(last.close().await, SessionState::Closed);
    assert_eq!(zk.state(), SessionState::Closed);
}

/// A state observer of a client started without waiting sees Connecting then Connected (or
/// starts at Connected), then Closing and Closed after close, and then ends; an observer made
/// after the close starts at Closed and ends at once.
pub async fn state_observer_sees_connecting_connected_then_closed<A: Adapter>(env: Env) {
    let zk = A::start(&env.options()).want("start a client");
    env.track::<A>(&zk);
    let mut states = zk.state_watcher();
    match states.current() {
        SessionState::Connecting => {
            let seen = wait_for_state::<A>(&mut states, EVENT_WAIT, "connecting", |s| {
                s == SessionState::Connected
            })
            .await;
            assert_eq!(seen, [SessionState::Connected]);
        }
        SessionState::Connected => {}
        other => panic!("a starting client is Connecting or Connected, not {other:?}"),
    }
    assert_eq!(zk.state(), SessionState::Connected);
    assert!(zk.negotiated_timeout().is_some());
    assert!(zk.current_host().is_some());
    assert!(zk.exists("/").await.want("exists").is_some());

    assert_eq!(zk.close().await, SessionState::Closed);
    let mut after = Vec::new();
    loop {
        match A::next_state(&mut states, EVENT_WAIT).await {
            Ok(Some(state)) => after.push(state),
            Ok(None) => break,
            Err(_) => panic!("the state changes did not end after close: {after:?}"),
        }
    }
    assert_eq!(after.last(), Some(&SessionState::Closed), "{after:?}");
    assert!(
        after[..after.len() - 1]
            .iter()
            .all(|s| *s == SessionState::Closing),
        "only Closing may come before Closed: {after:?}"
    );
    let mut late = zk.state_watcher();
    assert_eq!(late.current(), SessionState::Closed);
    assert_eq!(A::next_state(&mut late, EVENT_WAIT).await, Ok(None));
}

/// A real expiry (the session closed by a second connection that resumed it) is reported as
/// Expired, terminal: no Connected after it, the session id unchanged (no new session),
/// calls fail at once with SessionExpired, watches end with SessionEnded(Expired), the
/// session's ephemerals are gone, and resuming the dead session fails.
pub async fn real_expiry_is_terminal_and_never_creates_a_new_session<A: Adapter>(env: Env) {
    let observer = env.client::<A>().await;
    let zk = env.client_with::<A>(env.options()).await;
    let ephemeral = env.path("ephemeral");
    zk.create(&ephemeral, &b""[..], CreateMode::Ephemeral)
        .await
        .want("create ephemeral");
    let (id, password) = (zk.session_id(), zk.session_password());
    let (_, mut data_watch) = zk.get_data_and_watch(env.root()).await.want("watch");
    let mut stream = zk
        .add_watch(env.root(), AddWatchMode::Persistent)
        .await
        .want("add_watch");
    let (_, mut gone) = observer
        .exists_and_watch(&ephemeral)
        .await
        .want("exists_and_watch");
    let mut states = zk.state_watcher();

    let resume = env
        .options()
        .resume(id, password.clone())
        .connect_wait(EVENT_WAIT);
    let seen = crate::conformance::expire_by_twin::<A>(&env, &zk, &mut states).await;
    let expired = seen.last() == Some(&SessionState::Expired);
    assert!(expired, "the client never reported Expired: {seen:?}");
    assert_eq!(
        zk.end_reason(),
        Some(zk_client::SessionEnd::ExpiredByServer),
        "the server declared the session expired"
    );
    assert!(
        seen.iter().all(|s| matches!(
            s,
            SessionState::Disconnected | SessionState::Connected | SessionState::Expired
        )),
        "{seen:?}"
    );
    assert_eq!(
        A::next_state(&mut states, EVENT_WAIT).await,
        Ok(None),
        "nothing follows Expired"
    );
    assert_eq!(zk.state(), SessionState::Expired);
    assert_eq!(zk.session_id(), id, "no new session was created");

    assert_eq!(
        now_or_never(zk.get_data(env.root()))
            .expect("calls fail at once")
            .kind_only(),
        Err(GetDataError::Common(CommonError::SessionExpired))
    );
    assert_eq!(
        now_or_never(zk.create(&env.path("late"), &b""[..], CreateMode::Persistent))
            .expect("calls fail at once")
            .kind_only(),
        Err(CreateError::Common(CommonError::SessionExpired))
    );
    assert_eq!(
        A::wait_watch(&mut data_watch, EVENT_WAIT).await,
        Some(WatchEvent::SessionEnded(SessionState::Expired))
    );
    loop {
        match expect_next::<A>(&mut stream, EVENT_WAIT, "persistent watch at expiry").await {
            WatchEvent::PossiblyMissedEvents => continue,
            WatchEvent::SessionEnded(SessionState::Expired) => break,
            other => panic!("expected SessionEnded(Expired), got {other:?}"),
        }
    }
    assert_eq!(A::next_event(&mut stream, EVENT_WAIT).await, Ok(None));
    let event = expect_fired::<A>(&mut gone, "the expired session's ephemeral").await;
    assert_eq!(event, node_event(EventType::NodeDeleted, &ephemeral));
    assert_eq!(zk.close().await, SessionState::Expired);

    match A::connect(&resume).await {
        Err(ConnectError::Ended(SessionState::Expired)) => {}
        Ok(client) => panic!(
            "resuming an expired session succeeded with session {:?}",
            client.session_id()
        ),
        Err(e) => panic!("resuming an expired session: expected Ended(Expired), got {e}"),
    }
}

/// Requests go on the wire in call order, not in the order their futures are awaited: 64
/// sequential creates issued through two clones and awaited backwards get sequence numbers in
/// call order; pipelined version-checked writes all succeed; a create, set_data, delete and
/// exists issued together see each other's effects.
pub async fn call_order_is_wire_order<A: Adapter>(env: Env) {
    const CREATES: usize = 64;
    let zk = env.client::<A>().await;
    let copy = zk.clone();
    let dir = env.path("dir");
    create_node(&zk, &dir, b"").await;
    let prefix = format!("{dir}/n-");
    let calls: Vec<_> = (0..CREATES)
        .map(|i| {
            let client = if i % 2 == 0 { &zk } else { &copy };
            client.create(
                &prefix,
                Bytes::from(i.to_string()),
                CreateMode::PersistentSequential,
            )
        })
        .collect();
    let mut created = Vec::with_capacity(CREATES);
    for call in calls.into_iter().rev() {
        created.push(call.await.want("sequential create"));
    }
    created.reverse();
    for (i, node) in created.iter().enumerate() {
        assert_eq!(
            sequence_of(&node.path),
            i as i32,
            "call {i} got {}",
            node.path
        );
        let (data, _) = zk.get_data(&node.path).await.want("get_data");
        assert_eq!(&data[..], i.to_string().as_bytes());
    }

    let node = env.path("versioned");
    create_node(&zk, &node, b"").await;
    let writes: Vec<_> = (0..32)
        .map(|v| zk.set_data(&node, Bytes::from(v.to_string()), Some(v)))
        .collect();
    for (v, write) in writes.into_iter().enumerate().rev() {
        let stat = write.await.want("version-checked set_data");
        assert_eq!(stat.version, v as i32 + 1);
    }

    let path = env.path("short-lived");
    let create = zk.create(&path, &b""[..], CreateMode::Persistent);
    let update = copy.set_data(&path, &b"x"[..], Some(0));
    let delete = zk.delete(&path, Some(1));
    let gone = copy.exists(&path);
    assert_eq!(gone.await.want("exists"), None);
    delete.await.want("delete at version 1");
    assert_eq!(update.await.want("set_data at version 0").version, 1);
    create.await.want("create");
}

/// Abandoned calls — futures dropped before completion (or, for the blocking client, calls
/// that gave up waiting) — do not disturb the session: the requests are still applied in
/// order, an abandoned watching call leaves no server watch behind, and the session carries
/// on.
pub async fn dropped_futures_do_not_disturb_the_session<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let dir = env.path("dir");
    create_node(&zk, &dir, b"").await;
    for i in 0..20 {
        zk.create_abandoned(&format!("{dir}/n{i:02}"), &b""[..], CreateMode::Persistent);
        drop(zk.get_data(&dir));
    }
    zk.add_watch_abandoned(&dir, AddWatchMode::PersistentRecursive);
    for _ in 0..10 {
        let _ = A::timeout(Duration::from_micros(1), zk.get_children(&dir)).await;
    }
    let (children, _) = zk.get_children(&dir).await.want("get_children");
    let expected: Vec<String> = (0..20).map(|i| format!("n{i:02}")).collect();
    assert_eq!(sorted(children), expected, "abandoned creates were applied");
    zk.sync(&dir).await.want("sync");
    let err = zk
        .check_watches(&dir, WatcherType::Any)
        .await
        .want_err("check_watches after an abandoned add_watch");
    assert_eq!(
        err,
        WatchesError::NoWatcher,
        "an abandoned add_watch must not leave a server watch behind"
    );
    assert!(zk.state().is_connected(), "{:?}", zk.state());
    create_node(&zk, &format!("{dir}/after"), b"").await;
}

/// While disconnected (the server is down), a fail-fast client's calls fail at once with
/// ConnectionLoss, while a default client's calls wait and complete after the reconnection;
/// both keep their sessions.
pub async fn calls_while_disconnected_wait_or_fail_fast<A: Adapter>(env: Env) {
    // A dedicated server: take the slot of the ensembles, so JVMs of this process start one
    // scenario at a time.
    let _slot = ensemble_slot();
    let mut server = Server::standalone(&ServerOptions::fast_expiry())
        .unwrap_or_else(|e| panic!("starting a dedicated standalone server: {e}"));
    // The longest timeout the server grants: calls made while disconnected wait for as long.
    // An attempt that reaches the restarting server before it serves may go unanswered: it is
    // retried after 5 s rather than the default attempt bound of the whole 60 s.
    let options = Connect::new(server.connect_string())
        .session_timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(5));
    let waiting = env.client_with::<A>(options.clone()).await;
    let failing = env.client_with::<A>(options.fail_fast(true)).await;
    let ids = (waiting.session_id(), failing.session_id());
    let mut waiting_states = waiting.state_watcher();
    let mut failing_states = failing.state_watcher();

    server
        .kill()
        .unwrap_or_else(|e| panic!("killing the server: {e}"));
    let is_disconnected = |s| s == SessionState::Disconnected;
    wait_for_state::<A>(
        &mut waiting_states,
        EVENT_WAIT,
        "disconnect",
        is_disconnected,
    )
    .await;
    wait_for_state::<A>(
        &mut failing_states,
        EVENT_WAIT,
        "disconnect",
        is_disconnected,
    )
    .await;

    let outcome = now_or_never(failing.get_data("/"))
        .expect("a fail-fast call fails at once while disconnected");
    assert_eq!(
        outcome.kind_only(),
        Err(GetDataError::Common(CommonError::ConnectionLoss))
    );
    let queued_client = waiting.clone();
    let mut queued = A::spawn(async move {
        queued_client
            .create("/queued", &b"q"[..], CreateMode::Persistent)
            .await
    });
    // The blocking client's call runs on a thread: wait until it has submitted its request.
    wait_for_calls_outstanding::<A>(&waiting, 1, EVENT_WAIT, "the queued create").await;
    assert!(
        now_or_never(&mut queued).is_none(),
        "a call made while disconnected waits for a connection"
    );

    let restarted = Instant::now();
    server
        .start()
        .unwrap_or_else(|e| panic!("restarting the server: {e}"));
    server
        .wait_serving(SLOW_WAIT)
        .unwrap_or_else(|e| panic!("waiting for the restarted server: {e}"));
    let serving_after = restarted.elapsed();
    let Some(outcome) = A::timeout(SLOW_WAIT, queued).await else {
        panic!(
            "the queued call did not complete within {SLOW_WAIT:?} of the server serving again \
             ({serving_after:?} after its restart); the waiting client is {:?}, the fail-fast \
             one {:?}",
            waiting.state(),
            failing.state()
        );
    };
    let created = outcome.want(&format!(
        "the queued create (the server served again {serving_after:?} after its restart; \
             {:?} since)",
        restarted.elapsed() - serving_after
    ));
    assert_eq!(created.path, "/queued");
    let is_connected = |s| s == SessionState::Connected;
    if waiting.state() != SessionState::Connected {
        wait_for_state::<A>(&mut waiting_states, SLOW_WAIT, "reconnect", is_connected).await;
    }
    if failing.state() != SessionState::Connected {
        wait_for_state::<A>(&mut failing_states, SLOW_WAIT, "reconnect", is_connected).await;
    }
    assert_eq!(
        (waiting.session_id(), failing.session_id()),
        ids,
        "both sessions survive the outage"
    );
    failing
        .get_data("/queued")
        .await
        .want("a fail-fast client works again once connected");
}
