//! The cache's exact interleavings, in virtual time on the fake server.
use std::collections::BTreeMap;

use bytes::Bytes;
use zk_client::ops::{Create, Delete, SetData};

use super::{CacheEvent, CachedNode, TreeCache};
use crate::client::Zk;
use crate::fake::{FakeZk, World};

fn done<F: std::future::Future>(world: &World, fut: F) -> F::Output {
    let mut fut = Box::pin(fut);
    world.run(&mut fut).expect("completes without outside help")
}

fn create(world: &World, zk: &FakeZk, path: &str, data: &str) {
    let data = Bytes::copy_from_slice(data.as_bytes());
    done(world, zk.call(Create::new(path, data))).expect("create");
}

fn set(world: &World, zk: &FakeZk, path: &str, data: &str) {
    let data = Bytes::copy_from_slice(data.as_bytes());
    done(world, zk.call(SetData::new(path, data))).expect("set");
}

fn delete(world: &World, zk: &FakeZk, path: &str) {
    done(world, zk.call(Delete::new(path))).expect("delete");
}

/// The cache's paths and data.
fn cached<C: Zk>(cache: &TreeCache<C>) -> BTreeMap<String, Bytes> {
    cache
        .snapshot()
        .into_iter()
        .map(|(p, n)| (p, n.data().cloned().unwrap_or_default()))
        .collect()
}

/// Applies `events` to `tree`, as a reader of the cache's events would.
fn replay(tree: &mut BTreeMap<String, CachedNode>, events: Vec<CacheEvent>) {
    for event in events {
        match event {
            CacheEvent::Added { path, node } | CacheEvent::Updated { path, node } => {
                tree.insert(path, node);
            }
            CacheEvent::Removed { path } => {
                tree.remove(&path);
            }
            _ => {}
        }
    }
}

fn drain<C: Zk>(cache: &TreeCache<C>) -> Vec<CacheEvent> {
    std::iter::from_fn(|| cache.try_next_event()).collect()
}

#[test]
fn loads_then_follows_and_its_events_replay_to_its_snapshot() {
    let world = World::default();
    let (writer, reader) = (world.client(), world.client());
    create(&world, &writer, "/r", "root");
    create(&world, &writer, "/r/a", "1");
    create(&world, &writer, "/r/a/b", "2");
    let cache = TreeCache::new(reader.clone(), "/r");
    world.run_tasks();
    assert!(cache.is_initialized());
    assert_eq!(cached(&cache), world.server().tree("/r"));
    let mut replayed = BTreeMap::new();
    let loaded = drain(&cache);
    assert_eq!(loaded.last(), Some(&CacheEvent::Initialized));
    replay(&mut replayed, loaded);

    create(&world, &writer, "/r/c", "3");
    set(&world, &writer, "/r/a", "1b");
    delete(&world, &writer, "/r/a/b");
    world.run_tasks();
    assert_eq!(cached(&cache), world.server().tree("/r"));
    assert_eq!(cache.children("/r"), Some(vec!["a".into(), "c".into()]));
    let stat = cache.get("/r").and_then(|n| n.stat().cloned());
    assert_eq!(
        stat.map(|s| s.num_children),
        Some(2),
        "the parent's stat follows"
    );
    replay(&mut replayed, drain(&cache));
    assert_eq!(replayed, cache.snapshot());
}

#[test]
fn events_missed_while_disconnected_are_found_by_a_walk_that_emits_only_them() {
    let world = World::default();
    let (writer, reader) = (world.client(), world.client());
    create(&world, &writer, "/r", "");
    for name in ["a", "b", "c"] {
        create(&world, &writer, &format!("/r/{name}"), name);
    }
    create(&world, &writer, "/r/b/deep", "d");
    let cache = TreeCache::new(reader.clone(), "/r");
    world.run_tasks();
    let mut replayed = BTreeMap::new();
    replay(&mut replayed, drain(&cache));

    world.server().disconnect(reader.session);
    delete(&world, &writer, "/r/b/deep");
    delete(&world, &writer, "/r/b");
    set(&world, &writer, "/r/c", "c2");
    create(&world, &writer, "/r/d", "d");
    world.run_tasks();
    assert!(cache.get("/r/b").is_some(), "missed while disconnected");
    world.server().reconnect(reader.session);
    world.run_tasks();
    assert_eq!(cached(&cache), world.server().tree("/r"));
    let events = drain(&cache);
    let paths: Vec<(&str, &str)> = events
        .iter()
        .map(|e| match e {
            CacheEvent::Added { path, .. } => ("added", path.as_str()),
            CacheEvent::Updated { path, .. } => ("updated", path.as_str()),
            CacheEvent::Removed { path } => ("removed", path.as_str()),
            CacheEvent::Resynchronized => ("resynchronized", ""),
            _ => ("other", ""),
        })
        .filter(|(_, path)| *path != "/r")
        .collect();
    assert_eq!(
        paths,
        [
            ("removed", "/r/b/deep"),
            ("removed", "/r/b"),
            ("updated", "/r/c"),
            ("added", "/r/d"),
            ("resynchronized", "")
        ],
        "exactly the differences"
    );
    assert_eq!(cache.resyncs(), 1);
    replay(&mut replayed, events);
    assert_eq!(replayed, cache.snapshot());
}

#[test]
fn a_read_sent_before_a_deletion_is_dropped() {
    let world = World::default();
    let (writer, reader) = (world.client(), world.client());
    create(&world, &writer, "/r", "");
    create(&world, &writer, "/r/x", "1");
    let cache = TreeCache::new(reader.clone(), "/r");
    world.run_tasks();

    // The cache reads /x for the change; its reply (/x with "2") comes after /x is gone.
    world.server().hold(reader.session);
    set(&world, &writer, "/r/x", "2");
    world.run_tasks();
    delete(&world, &writer, "/r/x");
    world.run_tasks();
    world.server().release(reader.session);
    world.run_tasks();
    assert_eq!(
        cache.get("/r/x"),
        None,
        "the stale read did not bring /x back"
    );
    assert_eq!(cached(&cache), world.server().tree("/r"));
}

#[test]
fn a_session_end_ends_the_cache_which_keeps_its_nodes_and_restarts_when_asked() {
    let world = World::default();
    let (writer, reader) = (world.client(), world.client());
    create(&world, &writer, "/r", "");
    create(&world, &writer, "/r/a", "1");
    let cache = TreeCache::new(reader.clone(), "/r");
    world.run_tasks();
    drain(&cache);

    world.server().expire(reader.session);
    world.run_tasks();
    let ended = cache.ended().expect("ended");
    assert!(
        ended.to_string().contains("session expired"),
        "typed and named: {ended}"
    );
    assert_eq!(
        cache.get("/r/a").and_then(|n| n.data().cloned()),
        Some("1".into())
    );
    assert_eq!(done(&world, cache.next_event()), None, "no more events");

    set(&world, &writer, "/r/a", "2");
    create(&world, &writer, "/r/b", "3");
    cache.restart(world.client());
    world.run_tasks();
    assert!(cache.ended().is_none());
    assert_eq!(cached(&cache), world.server().tree("/r"));
    let events = drain(&cache);
    assert_eq!(events.last(), Some(&CacheEvent::Resynchronized));
    assert!(!events.contains(&CacheEvent::Initialized));
}

#[test]
fn depth_and_filter_limit_what_is_read_and_kept() {
    let world = World::default();
    let (writer, reader) = (world.client(), world.client());
    create(&world, &writer, "/r", "");
    create(&world, &writer, "/r/keep", "");
    create(&world, &writer, "/r/keep/deep", "");
    create(&world, &writer, "/r/skip", "");
    create(&world, &writer, "/r/skip/x", "");
    let cache = TreeCache::builder(reader.clone(), "/r")
        .max_depth(1)
        .filter(|p| !p.ends_with("/skip"))
        .stat(false)
        .start();
    world.run_tasks();
    let paths: Vec<String> = cache.snapshot().into_keys().collect();
    assert_eq!(paths, ["/r", "/r/keep"]);
    assert!(cache.get("/r").is_some_and(|n| n.stat().is_none()));
    create(&world, &writer, "/r/keep/other", "");
    create(&world, &writer, "/r/new", "n");
    world.run_tasks();
    let paths: Vec<String> = cache.snapshot().into_keys().collect();
    assert_eq!(paths, ["/r", "/r/keep", "/r/new"]);
}

#[test]
fn a_walk_whose_read_is_lost_does_not_count_until_walked_again() {
    let world = World::default();
    let (writer, reader) = (world.client(), world.client());
    create(&world, &writer, "/r", "");
    create(&world, &writer, "/r/a", "1");
    world.server().disconnect(reader.session);
    world.server().fail_next_call(reader.session);
    let cache = TreeCache::new(reader.clone(), "/r");
    world.run_tasks();
    assert!(
        !cache.is_initialized(),
        "the root's read was lost: nothing is known"
    );
    assert!(cache.is_empty());
    world.server().reconnect(reader.session);
    world.run_tasks();
    assert!(cache.is_initialized());
    assert_eq!(cached(&cache), world.server().tree("/r"));
}

#[test]
fn a_parent_stat_follows_children_past_the_depth_limit() {
    let world = World::default();
    let (writer, reader) = (world.client(), world.client());
    create(&world, &writer, "/r", "");
    create(&world, &writer, "/r/a", "");
    let cache = TreeCache::builder(reader.clone(), "/r")
        .max_depth(1)
        .start();
    world.run_tasks();
    let children = |cache: &TreeCache<FakeZk>| {
        cache
            .get("/r/a")
            .and_then(|n| n.stat().map(|s| s.num_children))
    };
    assert_eq!(children(&cache), Some(0));
    create(&world, &writer, "/r/a/x", "");
    world.run_tasks();
    assert_eq!(
        children(&cache),
        Some(1),
        "a child past the limit changes its parent"
    );
    assert!(cache.get("/r/a/x").is_none());
    delete(&world, &writer, "/r/a/x");
    world.run_tasks();
    assert_eq!(children(&cache), Some(0));
}

/// Random interleavings (seeded, bounded): a writer's creates, sets and deletes, the
/// reader's replies held back and released, its connection lost and back, its tasks run
/// at random points. Whatever the interleaving, once all is delivered the cache equals the
/// server's tree and its events replay to its snapshot.
#[test]
fn random_interleavings_converge_and_replay() {
    for seed in 1..=100u64 {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut below = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let world = World::default();
        let (writer, reader) = (world.client(), world.client());
        create(&world, &writer, "/r", "");
        let cache = TreeCache::new(reader.clone(), "/r");
        let mut events = Vec::new();
        for step in 0..120 {
            let path = match below(3) {
                0 => format!("/r/n{}", below(4)),
                _ => format!("/r/n{}/m{}", below(4), below(3)),
            };
            let data = Bytes::from(format!("{seed}.{step}"));
            match below(10) {
                0..=2 => {
                    let _ = done(&world, writer.call(Create::new(path, data)));
                }
                3..=4 => {
                    let _ = done(&world, writer.call(SetData::new(path, data)));
                }
                5..=6 => {
                    let _ = done(&world, writer.call(Delete::new(path)));
                }
                7 => {
                    let mut server = world.server();
                    if server.is_held(reader.session) {
                        server.release(reader.session);
                    } else {
                        server.hold(reader.session);
                    }
                }
                8 => {
                    let mut server = world.server();
                    if server.is_disconnected(reader.session) {
                        server.reconnect(reader.session);
                    } else {
                        server.disconnect(reader.session);
                        if below(2) == 0 {
                            server.fail_next_call(reader.session);
                        }
                    }
                }
                _ => world.run_tasks(),
            }
            events.extend(drain(&cache));
        }
        {
            let mut server = world.server();
            server.release(reader.session);
            if server.is_disconnected(reader.session) {
                server.reconnect(reader.session);
            }
        }
        world.run_tasks();
        events.extend(drain(&cache));
        assert!(cache.ended().is_none(), "seed {seed}: {:?}", cache.ended());
        assert!(cache.is_initialized(), "seed {seed}");
        assert_eq!(cached(&cache), world.server().tree("/r"), "seed {seed}");
        let mut replayed = BTreeMap::new();
        replay(&mut replayed, events);
        assert_eq!(replayed, cache.snapshot(), "seed {seed}: replay");
    }
}
