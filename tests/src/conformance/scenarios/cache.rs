//! zk-recipes' caches against real servers: a tree cache follows random creates, sets and
//! deletes and ends equal to a fresh walk of the tree, its events replaying to its snapshot,
//! on a server and on an ensemble whose connected member is killed, frozen and restarted; the
//! node and children caches; service discovery.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_client::ops::{ErrorKind, GetChildrenError, GetDataError};
use zk_client::proto::{CreateMode, Stat};
use zk_client::{CommonError, SessionState};
use zk_recipes::cache::{CacheEvent, CachedNode, ChildrenCache, NodeCache, TreeCache};

use super::chaos::Chaos;
use super::{Rng, Want};
use crate::conformance::{
    ensemble_slot, wait_for_state, Adapter, Api, Connect, Env, EVENT_WAIT, SLOW_WAIT,
};
use crate::{Ensemble, ServerOptions};

/// Whether a failed call may be tried again (the connection was lost under it).
fn transient(common: Option<CommonError>) -> bool {
    matches!(
        common,
        Some(CommonError::ConnectionLoss | CommonError::RequestTimeout)
    )
}

/// A fresh walk of the tree at `root`: each node's data and stat.
async fn walk<C: Api>(client: &C, root: &str) -> BTreeMap<String, (Bytes, Stat)> {
    let mut tree = BTreeMap::new();
    let mut to_visit = vec![root.to_owned()];
    while let Some(path) = to_visit.pop() {
        let (data, stat) = loop {
            match client.get_data(&path).await {
                Ok(node) => break Some(node),
                Err(e) if *e.kind() == GetDataError::NoNode => break None,
                Err(e) if transient(e.common()) => continue,
                Err(e) => panic!("walk: {e}"),
            }
        }
        .unwrap_or_else(|| panic!("walk: {path} went away during the walk"));
        let children = loop {
            match client.get_children(&path).await {
                Ok((children, _)) => break children,
                Err(e) if *e.kind() == GetChildrenError::NoNode => break Vec::new(),
                Err(e) if transient(e.common()) => continue,
                Err(e) => panic!("walk: {e}"),
            }
        };
        for child in children {
            to_visit.push(format!("{path}/{child}"));
        }
        tree.insert(path, (data, stat));
    }
    tree
}

/// What a cache holds, as a walk gives it.
fn held<C: zk_recipes::Zk>(cache: &TreeCache<C>) -> BTreeMap<String, (Bytes, Stat)> {
    cache
        .snapshot()
        .into_iter()
        .map(|(path, node)| {
            let data = node.data().cloned().unwrap_or_default();
            let stat = node.stat().cloned().unwrap_or_default();
            (path, (data, stat))
        })
        .collect()
}

/// Applies `events` to `tree`, as a reader of the cache's events would.
fn replay(tree: &mut BTreeMap<String, CachedNode>, events: &[CacheEvent]) {
    for event in events {
        match event {
            CacheEvent::Added { path, node } | CacheEvent::Updated { path, node } => {
                tree.insert(path.clone(), node.clone());
            }
            CacheEvent::Removed { path } => {
                tree.remove(path);
            }
            _ => {}
        }
    }
}

/// Random creates, sets and deletes under `root` (two levels of eight nodes) for `ops`
/// operations or until `until`; a failure the tree's state explains (a missing or existing
/// node, children left) or a lost connection is part of the game. In a timed run (the chaos
/// scenario's), an expired session ends the writes early: the caller sees it in the writer's
/// state and connects again.
async fn write_randomly<C: Api>(
    writer: &C,
    root: &str,
    rng: &mut Rng,
    ops: usize,
    until: Option<Instant>,
) -> usize {
    let mut done = 0;
    while done < ops && until.is_none_or(|t| Instant::now() < t) {
        let top = format!("{root}/n{}", rng.below(8));
        let path = if rng.below(2) == 0 {
            top.clone()
        } else {
            format!("{top}/m{}", rng.below(8))
        };
        let data = Bytes::from(format!("v{}", rng.below(1_000_000)));
        let kind = match rng.below(4) {
            0 | 1 => writer
                .set_data(&path, data, None)
                .await
                .err()
                .map(|e| e.into_kind().into()),
            2 => writer
                .create(&path, data, CreateMode::Persistent)
                .await
                .err()
                .map(|e| e.into_kind().into()),
            _ => writer
                .delete(&path, None)
                .await
                .err()
                .map(|e| e.into_kind().into()),
        };
        match kind {
            None
            | Some(ErrorKind::NoNode | ErrorKind::NodeExists | ErrorKind::NotEmpty)
            | Some(ErrorKind::Common(CommonError::ConnectionLoss | CommonError::RequestTimeout)) => {
            }
            Some(ErrorKind::Common(CommonError::SessionExpired)) if until.is_some() => break,
            Some(other) => panic!("write {path}: {other}"),
        }
        done += 1;
    }
    done
}

/// The checks of a run, once the writer has stopped: the cache comes to equal a fresh walk
/// (data and stat of every node; the cache may still be applying the last changes, so the walk
/// is taken again after each of its events, up to a bound), and its events, replayed in order
/// from an empty tree, give its snapshot.
async fn check<A: Adapter>(
    reader: &A::Client,
    cache: &TreeCache<A::Client>,
    root: &str,
    mut events: Vec<CacheEvent>,
) {
    let deadline = Instant::now() + SLOW_WAIT;
    loop {
        let fresh = walk(reader, root).await;
        let cached = held(cache);
        let differences: Vec<&String> = fresh
            .keys()
            .chain(cached.keys())
            .filter(|p| fresh.get(*p) != cached.get(*p))
            .collect();
        if differences.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "[{}] the cache differs from a fresh walk at {differences:?} (ended: {:?})",
            A::NAME,
            cache.ended()
        );
        if let Some(Some(event)) = A::timeout(Duration::from_millis(100), cache.next_event()).await
        {
            events.push(event);
        }
    }
    events.extend(std::iter::from_fn(|| cache.try_next_event()));
    let mut replayed = BTreeMap::new();
    replay(&mut replayed, &events);
    assert_eq!(
        replayed,
        cache.snapshot(),
        "[{}] the events replay to the snapshot",
        A::NAME
    );
    assert!(
        !events.iter().any(|e| matches!(e, CacheEvent::Lagged(_))),
        "[{}] nothing dropped",
        A::NAME
    );
}

/// While a writer makes random creates, sets and deletes under a subtree, a tree cache runs
/// (and the application sets one-shot watches on the cache's own session, on the cache's root
/// and inside the subtree: on a 3.8 server they must not displace the cache's watch); after
/// the writer stops, the cache equals a fresh walk of the tree, and its events, replayed in
/// order, give its snapshot.
pub async fn tree_cache_matches_a_fresh_walk_after_random_writes<A: Adapter>(env: Env) {
    let writer = env.client::<A>().await;
    let reader = env.client::<A>().await;
    let root = env.path("tree");
    writer
        .create(&root, &b"root"[..], CreateMode::Persistent)
        .await
        .want("create the root");
    let mut rng = Rng::from_clock(A::NAME);
    write_randomly(&writer, &root, &mut rng, 200, None).await;

    let cache = TreeCache::new(reader.clone(), root.clone());
    let mut events = Vec::new();
    // The writer goes on during the initial load.
    write_randomly(&writer, &root, &mut rng, 200, None).await;
    A::timeout(EVENT_WAIT, cache.wait_initialized())
        .await
        .unwrap_or_else(|| panic!("[{}] the cache never initialized", A::NAME))
        .want("initialized");
    // One-shot watches on the cache's session, where its persistent watch is.
    let on_root = reader
        .get_data_and_watch(&root)
        .await
        .want("watch the root");
    write_randomly(&writer, &root, &mut rng, 600, None).await;
    let inside = format!("{root}/n1");
    let on_inside = reader.exists_and_watch(&inside).await.want("watch inside");
    write_randomly(&writer, &root, &mut rng, 600, None).await;
    drop((on_root, on_inside));
    while let Some(event) = cache.try_next_event() {
        events.push(event);
    }
    check::<A>(&reader, &cache, &root, events).await;

    // The session expires: the cache ends, typed and named, keeping its nodes; asked to, it
    // follows the tree again on a new session and again equals a fresh walk.
    let held_before = cache.len();
    let mut states = reader.state_watcher();
    let seen = crate::conformance::expire_by_twin::<A>(&env, &reader, &mut states).await;
    assert_eq!(
        seen.last(),
        Some(&zk_client::SessionState::Expired),
        "{seen:?}"
    );
    let ended = A::timeout(EVENT_WAIT, wait_ended(&cache))
        .await
        .unwrap_or_else(|| panic!("[{}] the cache did not end with its session", A::NAME));
    assert!(
        ended.to_string().contains("session expired"),
        "[{}] typed and named: {ended}",
        A::NAME
    );
    assert_eq!(
        cache.len(),
        held_before,
        "[{}] it keeps what it held",
        A::NAME
    );
    write_randomly(&writer, &root, &mut rng, 200, None).await;
    let reader = env.client::<A>().await;
    cache.restart(reader.clone());
    let mut events: Vec<CacheEvent> = cache
        .snapshot()
        .into_iter()
        .map(|(path, node)| CacheEvent::Added { path, node })
        .collect();
    let deadline = Instant::now() + SLOW_WAIT;
    loop {
        let event = A::timeout(EVENT_WAIT, cache.next_event()).await.flatten();
        let done = event == Some(CacheEvent::Resynchronized);
        assert!(
            event.is_some() && Instant::now() < deadline,
            "[{}] no resynchronization after the restart: {:?}",
            A::NAME,
            cache.ended()
        );
        events.extend(event);
        if done {
            break;
        }
    }
    check::<A>(&reader, &cache, &root, events).await;
    cache.close().await;
}

/// The thin forms: a node cache follows one node (created, changed, deleted) and a children
/// cache one level; when the session ends, each ends with a typed error naming the session's
/// end and keeps what it held.
pub async fn node_and_children_caches_follow_and_end_with_the_session<A: Adapter>(env: Env) {
    let writer = env.client::<A>().await;
    let reader = env.client::<A>().await;
    let flag = env.path("flag");
    let node = NodeCache::new(reader.clone(), flag.clone());
    A::timeout(EVENT_WAIT, node.wait_initialized())
        .await
        .expect("initialized in time")
        .want("initialized");
    assert_eq!(node.node(), None, "no node yet");
    writer
        .create(&flag, &b"on"[..], CreateMode::Persistent)
        .await
        .want("create");
    let added = next_change::<A>(&node).await;
    assert!(
        matches!(&added, Some(CacheEvent::Added { path, .. }) if *path == flag),
        "[{}] {added:?}",
        A::NAME
    );
    writer.set_data(&flag, &b"off"[..], None).await.want("set");
    let updated = next_change::<A>(&node).await;
    assert!(
        matches!(&updated, Some(CacheEvent::Updated { node, .. }) if node.data().map(|d| &d[..]) == Some(&b"off"[..])),
        "[{}] {updated:?}",
        A::NAME
    );

    let members = env.path("members");
    writer
        .create(&members, &b""[..], CreateMode::Persistent)
        .await
        .want("create");
    writer
        .create(&format!("{members}/a"), &b"1"[..], CreateMode::Persistent)
        .await
        .want("create");
    writer
        .create(
            &format!("{members}/a/deeper"),
            &b""[..],
            CreateMode::Persistent,
        )
        .await
        .want("create");
    let children = ChildrenCache::new(reader.clone(), members.clone());
    A::timeout(EVENT_WAIT, children.wait_initialized())
        .await
        .expect("initialized in time")
        .want("initialized");
    let names: Vec<String> = children.entries().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["a"], "[{}] one level only", A::NAME);
    writer
        .create(&format!("{members}/b"), &b"2"[..], CreateMode::Persistent)
        .await
        .want("create");
    let deadline = Instant::now() + EVENT_WAIT;
    while children.entries().len() < 2 {
        assert!(Instant::now() < deadline, "[{}] b never cached", A::NAME);
        let _ = A::timeout(EVENT_WAIT, children.next_event()).await;
    }

    // The session ends: both caches end, typed, keeping their nodes.
    reader.close().await;
    for ended in [
        A::timeout(EVENT_WAIT, wait_ended(&node)).await,
        A::timeout(EVENT_WAIT, wait_ended(&children)).await,
    ] {
        let ended = ended.unwrap_or_else(|| panic!("[{}] a cache did not end", A::NAME));
        assert!(
            ended.to_string().contains("closed"),
            "[{}] named: {ended}",
            A::NAME
        );
    }
    assert!(node.node().is_some() && children.entries().len() == 2);
}

/// The cache's next event that is a change of a node (not the end of a walk).
async fn next_change<A: Adapter>(cache: &TreeCache<A::Client>) -> Option<CacheEvent> {
    loop {
        match A::timeout(EVENT_WAIT, cache.next_event()).await.flatten() {
            Some(CacheEvent::Initialized | CacheEvent::Resynchronized) => continue,
            other => return other,
        }
    }
}

/// Waits until `cache` ended (reading its events meanwhile); why.
async fn wait_ended<C: zk_recipes::Zk>(cache: &TreeCache<C>) -> zk_recipes::CacheError {
    while cache.next_event().await.is_some() {}
    cache.ended().expect("no more events once ended")
}

/// The random-writes run on a 3-member ensemble while the member the cache's client is
/// connected to is killed and restarted, or frozen and thawed (a freeze may outlast the
/// session: the cache then ends with a typed error and the test restarts it on a new
/// session, as an application would). After the writer stops, the cache equals a fresh walk
/// and its events replay to its snapshot.
pub async fn tree_cache_under_chaos_matches_a_fresh_walk<A: Adapter>(env: Env) {
    let _slot = ensemble_slot();
    let ensemble = Ensemble::start(3, &ServerOptions::fast_expiry())
        .unwrap_or_else(|e| panic!("starting a 3-member ZooKeeper ensemble: {e}"));
    let connect_string = ensemble.connect_string();
    let ports: Vec<u16> = ensemble.client_addrs().iter().map(|a| a.port()).collect();
    let options = Connect::new(&connect_string)
        .session_timeout(Duration::from_secs(6))
        .connect_wait(SLOW_WAIT);
    let mut writer = crate::conformance::connect::<A>(&options).await;
    let mut reader = crate::conformance::connect::<A>(&options).await;
    let root = env.path("chaos-tree");
    zk_recipes::ensure_path(&writer, &root, zk_recipes::Parents::Persistent)
        .await
        .want("create the root");
    let mut rng = Rng::from_clock(A::NAME);
    write_randomly(&writer, &root, &mut rng, 100, None).await;
    let cache = TreeCache::new(reader.clone(), root.clone());
    let target = {
        let reader = reader.clone();
        move || {
            let port = reader.current_host()?.port;
            ports.iter().position(|p| *p == port)
        }
    };
    let chaos = Chaos::start_on(ensemble, rng.below(u64::MAX), Box::new(target));
    let mut events = Vec::new();
    let mut restarts = 0;
    let until = Instant::now() + Duration::from_secs(15);
    let mut written = 0;
    while Instant::now() < until {
        written += write_randomly(&writer, &root, &mut rng, 50, Some(until)).await;
        if writer.state().is_terminal() {
            // The writer shares the ensemble's faults: its session may expire too.
            eprintln!("[{}] the writer's session ended; connecting again", A::NAME);
            writer = crate::conformance::connect::<A>(&options).await;
        }
        while let Some(event) = cache.try_next_event() {
            events.push(event);
        }
        if let Some(ended) = cache.ended() {
            // The session expired under a long freeze: start again on a new one.
            eprintln!("[{}] the cache ended ({ended}); restarting it", A::NAME);
            reader = crate::conformance::connect::<A>(&options).await;
            cache.restart(reader.clone());
            restarts += 1;
        }
    }
    let (ensemble, log) = chaos.stop();
    // The last fault may still end the session: a client kept away past its timeout learns
    // it on reconnecting to the healed ensemble. Wait until the session is back or ended.
    let settled = |s: SessionState| s == SessionState::Connected || s.is_terminal();
    let mut states = reader.state_watcher();
    if !settled(reader.state()) {
        wait_for_state::<A>(
            &mut states,
            SLOW_WAIT,
            "the cache's session settles",
            settled,
        )
        .await;
    }
    if reader.state() != SessionState::Connected {
        eprintln!(
            "[{}] the cache's session ended after the faults; restarting it",
            A::NAME
        );
        reader = crate::conformance::connect::<A>(&options).await;
        cache.restart(reader.clone());
        restarts += 1;
    }
    eprintln!(
        "[{}] {written} writes, faults: {log:?}, {restarts} restarts, {} resyncs",
        A::NAME,
        cache.resyncs()
    );
    check::<A>(&reader, &cache, &root, events).await;
    assert!(
        cache.resyncs() + restarts > 0,
        "[{}] faults on the connected member made the cache walk again",
        A::NAME
    );
    cache.close().await;
    drop(ensemble);
}

/// Service discovery: two instances register (protected ephemeral nodes with payloads) and
/// are discovered, listed and followed; a payload update and an unregistration are seen by
/// the follower; an instance kept registered comes back on a new session after its session
/// expires, and the follower sees it go and come back.
pub async fn service_discovery_registers_discovers_and_registers_again<A: Adapter>(env: Env) {
    use zk_recipes::discovery::{InstanceChange, ServiceDiscovery};

    let base = env.path("services");
    let watcher = env.client::<A>().await;
    let (a, b) = (env.client::<A>().await, env.client::<A>().await);
    let discovery = |zk: &A::Client| ServiceDiscovery::new(zk.clone(), base.clone());
    let follower = discovery(&watcher).follow("api");
    let registered_a = discovery(&a)
        .register("api", "a:80", &b"10.0.0.1"[..])
        .await
        .want("register a");
    let registered_b = discovery(&b)
        .register("api", "b:80", &b"10.0.0.2"[..])
        .await
        .want("register b");
    let mut listed: Vec<(String, Bytes)> = discovery(&watcher)
        .instances("api")
        .await
        .want("instances")
        .into_iter()
        .map(|i| (i.id, i.payload))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("a:80".to_owned(), Bytes::from_static(b"10.0.0.1")),
            ("b:80".to_owned(), Bytes::from_static(b"10.0.0.2"))
        ]
    );
    A::timeout(EVENT_WAIT, follower.wait_initialized())
        .await
        .expect("initialized in time")
        .want("initialized");
    let next = || async {
        A::timeout(EVENT_WAIT, follower.next_change())
            .await
            .flatten()
            .unwrap_or_else(|| panic!("[{}] no change came", A::NAME))
    };
    let deadline = Instant::now() + EVENT_WAIT;
    while follower.instances().len() < 2 {
        assert!(Instant::now() < deadline, "[{}] both followed", A::NAME);
        next().await;
    }

    registered_b.update(&b"10.0.0.3"[..]).await.want("update");
    loop {
        if let InstanceChange::Updated(instance) = next().await {
            assert_eq!(
                (instance.id.as_str(), &instance.payload[..]),
                ("b:80", &b"10.0.0.3"[..])
            );
            break;
        }
    }
    let b_node = registered_b.node().to_owned();
    registered_b.unregister().await.want("unregister");
    assert_eq!(next().await, InstanceChange::Gone { node: b_node });

    // Kept registered: after an expiry, registered again on a new session.
    let options = env.options();
    let kept = registered_a.keep(move || {
        let options = options.clone();
        async move { Some(crate::conformance::connect::<A>(&options).await) }
    });
    let first_node = kept.node().expect("registered");
    let mut states = a.state_watcher();
    let seen = crate::conformance::expire_by_twin::<A>(&env, &a, &mut states).await;
    assert_eq!(
        seen.last(),
        Some(&zk_client::SessionState::Expired),
        "{seen:?}"
    );
    A::timeout(SLOW_WAIT, kept.wait_registrations(2))
        .await
        .unwrap_or_else(|| panic!("[{}] never registered again: {:?}", A::NAME, kept.stopped()));
    assert_eq!(kept.registrations(), 2, "{:?}", kept.stopped());
    let second_node = kept.node().expect("registered again");
    assert_ne!(first_node, second_node, "a new node on the new session");
    let (mut gone, mut back) = (false, false);
    while !(gone && back) {
        match next().await {
            InstanceChange::Gone { node } if node == first_node => gone = true,
            InstanceChange::Registered(i) if i.node == second_node => {
                assert_eq!((i.id.as_str(), &i.payload[..]), ("a:80", &b"10.0.0.1"[..]));
                back = true;
            }
            _ => {}
        }
    }
    kept.stop();
}
