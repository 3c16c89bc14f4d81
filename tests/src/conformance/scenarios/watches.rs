//! One-shot, persistent and recursive watches; their removal; slow consumers.

use std::time::{Duration, Instant};

use zk_client::ops::WatchesError;
use zk_client::proto::{AddWatchMode, CreateMode, EventType, WatcherType};
use zk_client::{WatchEvent, WatchStream};

use super::{create_node, Want};
use crate::conformance::{expect_fired, expect_next, node_event, Adapter, Api, Env, EVENT_WAIT};

/// Makes sure every notification caused by this client's earlier writes has been received:
/// ZooKeeper sends a write's notifications before its reply, and replies in order, so after
/// the reply to a later request nothing earlier can still be on the way.
async fn round_trip<C: Api>(zk: &C, path: &str) {
    zk.sync(path).await.want("sync");
    zk.exists(path).await.want("exists");
}

/// A data watch fires once, for the first change: the server forgets it (check_watches says
/// NoWatcher), a second change delivers nothing, and a new watch sees a deletion.
pub async fn data_watch_fires_exactly_once<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("node");
    create_node(&zk, &path, b"v0").await;
    let ((data, _), mut watch) = zk.get_data_and_watch(&path).await.want("watch data");
    assert_eq!(&data[..], b"v0");
    zk.check_watches(&path, WatcherType::Data)
        .await
        .want("the server holds the data watch");
    assert_eq!(watch.try_event(), None, "nothing fired yet");

    zk.set_data(&path, &b"v1"[..], None).await.want("set_data");
    let event = expect_fired::<A>(&mut watch, "data watch").await;
    assert_eq!(event, node_event(EventType::NodeDataChanged, &path));
    let err = zk
        .check_watches(&path, WatcherType::Data)
        .await
        .want_err("check_watches after the watch fired");
    assert_eq!(err, WatchesError::NoWatcher);

    zk.set_data(&path, &b"v2"[..], None).await.want("set_data");
    round_trip(&zk, &path).await;
    assert_eq!(watch.try_event(), None, "a one-shot watch fires once");

    let (_, mut watch) = zk.get_data_and_watch(&path).await.want("watch data");
    zk.delete(&path, None).await.want("delete");
    let event = expect_fired::<A>(&mut watch, "data watch on delete").await;
    assert_eq!(event, node_event(EventType::NodeDeleted, &path));
}

/// An exists watch on a missing node fires NodeCreated when another client creates it; on an
/// existing node it fires for a data change.
pub async fn exists_watch_on_a_missing_node_fires_node_created<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let other = env.client::<A>().await;
    let path = env.path("later");
    let (stat, mut watch) = zk.exists_and_watch(&path).await.want("exists_and_watch");
    assert_eq!(stat, None);
    zk.check_watches(&path, WatcherType::Data)
        .await
        .want("an exist watch on a missing node is held");
    other
        .create(&path, &b""[..], CreateMode::Persistent)
        .await
        .want("create");
    let event = expect_fired::<A>(&mut watch, "exists watch").await;
    assert_eq!(event, node_event(EventType::NodeCreated, &path));

    let (stat, mut watch) = zk.exists_and_watch(&path).await.want("exists_and_watch");
    assert!(stat.is_some());
    other
        .set_data(&path, &b"changed"[..], None)
        .await
        .want("set_data");
    let event = expect_fired::<A>(&mut watch, "exists watch on an existing node").await;
    assert_eq!(event, node_event(EventType::NodeDataChanged, &path));
}

/// A children watch fires once, on the parent's path, for a child created or deleted — and
/// not for a change of the parent's data.
pub async fn children_watch_fires_once_on_a_child_change<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let dir = env.path("dir");
    create_node(&zk, &dir, b"").await;
    let ((children, _), mut watch) = zk.get_children_and_watch(&dir).await.want("watch children");
    assert!(children.is_empty());
    create_node(&zk, &format!("{dir}/a"), b"").await;
    let event = expect_fired::<A>(&mut watch, "children watch").await;
    assert_eq!(event, node_event(EventType::NodeChildrenChanged, &dir));
    let err = zk
        .check_watches(&dir, WatcherType::Children)
        .await
        .want_err("check_watches after the children watch fired");
    assert_eq!(err, WatchesError::NoWatcher);

    let ((children, _), mut watch) = zk.get_children_and_watch(&dir).await.want("watch children");
    assert_eq!(children, ["a"]);
    zk.set_data(&dir, &b"data"[..], None).await.want("set_data");
    create_node(&zk, &format!("{dir}/a/grandchild"), b"").await;
    round_trip(&zk, &dir).await;
    assert_eq!(
        watch.try_event(),
        None,
        "neither a data change nor a grandchild fires a children watch"
    );
    zk.delete(&format!("{dir}/a/grandchild"), None)
        .await
        .want("delete");
    zk.delete(&format!("{dir}/a"), None).await.want("delete");
    let event = expect_fired::<A>(&mut watch, "children watch on delete").await;
    assert_eq!(event, node_event(EventType::NodeChildrenChanged, &dir));
}

/// A persistent watch keeps firing: data changes and child changes of its node (not of
/// grandchildren), its deletion and re-creation, in order.
pub async fn persistent_watch_keeps_firing_for_data_and_children<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("node");
    let child = format!("{path}/child");
    create_node(&zk, &path, b"").await;
    let mut stream = zk
        .add_watch(&path, AddWatchMode::Persistent)
        .await
        .want("add_watch");

    zk.set_data(&path, &b"1"[..], None).await.want("set_data");
    zk.set_data(&path, &b"2"[..], None).await.want("set_data");
    create_node(&zk, &child, b"").await;
    create_node(&zk, &format!("{child}/grandchild"), b"").await;
    zk.set_data(&child, &b"x"[..], None).await.want("set_data");
    zk.delete(&format!("{child}/grandchild"), None)
        .await
        .want("delete");
    zk.delete(&child, None).await.want("delete");
    zk.delete(&path, None).await.want("delete");
    create_node(&zk, &path, b"").await;

    let expected = [
        node_event(EventType::NodeDataChanged, &path),
        node_event(EventType::NodeDataChanged, &path),
        node_event(EventType::NodeChildrenChanged, &path),
        node_event(EventType::NodeChildrenChanged, &path),
        node_event(EventType::NodeDeleted, &path),
        node_event(EventType::NodeCreated, &path),
    ];
    for (i, want) in expected.iter().enumerate() {
        let got = expect_next::<A>(&mut stream, EVENT_WAIT, "persistent watch").await;
        assert_eq!(&got, want, "event {i}");
    }
    round_trip(&zk, &path).await;
    assert_eq!(stream.try_next(), None, "no further event");
    zk.check_watches(&path, WatcherType::Any)
        .await
        .want("the persistent watch is still held");
}

/// A client, a new node `node`, and a watch stream of `mode` on the node.
async fn node_with_stream<A: Adapter>(
    env: &Env,
    mode: AddWatchMode,
) -> (A::Client, String, WatchStream) {
    let zk = env.client::<A>().await;
    let path = env.path("node");
    create_node(&zk, &path, b"").await;
    let stream = zk.add_watch(&path, mode).await.want("add_watch");
    (zk, path, stream)
}

/// A one-shot watch set on a path that holds a persistent watch fires once, and the persistent
/// watch keeps firing after it: ZooKeeper 3.8 keeps one watch mode per path and session
/// (ZOOKEEPER-4466), so the client must not let the one-shot replace the persistent one.
pub async fn one_shot_watch_beside_a_persistent_one_leaves_it_firing<A: Adapter>(env: Env) {
    let (zk, path, mut stream) = node_with_stream::<A>(&env, AddWatchMode::Persistent).await;
    let (_, mut data_watch) = zk
        .get_data_and_watch(&path)
        .await
        .want("get_data_and_watch");
    let (_, mut exists_watch) = zk.exists_and_watch(&path).await.want("exists_and_watch");
    let (_, mut children_watch) = zk
        .get_children_and_watch(&path)
        .await
        .want("get_children_and_watch");

    zk.set_data(&path, &b"1"[..], None).await.want("set_data");
    zk.set_data(&path, &b"2"[..], None).await.want("set_data");
    create_node(&zk, &format!("{path}/child"), b"").await;
    zk.set_data(&path, &b"3"[..], None).await.want("set_data");

    let changed = node_event(EventType::NodeDataChanged, &path);
    assert_eq!(
        A::wait_watch(&mut data_watch, EVENT_WAIT).await,
        Some(changed.clone())
    );
    assert_eq!(
        A::wait_watch(&mut exists_watch, EVENT_WAIT).await,
        Some(changed.clone())
    );
    assert_eq!(
        A::wait_watch(&mut children_watch, EVENT_WAIT).await,
        Some(node_event(EventType::NodeChildrenChanged, &path))
    );
    let expected = [
        changed.clone(),
        changed.clone(),
        node_event(EventType::NodeChildrenChanged, &path),
        changed,
    ];
    for (i, want) in expected.iter().enumerate() {
        let got = expect_next::<A>(&mut stream, EVENT_WAIT, "persistent watch").await;
        assert_eq!(&got, want, "persistent event {i}");
    }
    zk.check_watches(&path, WatcherType::Any)
        .await
        .want("the persistent watch is still held");
}

/// A children watch beside a recursive watch on the same path still fires NodeChildrenChanged
/// (the server sends none under a recursive watch); a one-shot watch outlives the persistent
/// watch that serves it, and the server watch goes with the last of them.
pub async fn one_shot_watches_beside_a_recursive_one_and_after_it<A: Adapter>(env: Env) {
    let (zk, path, mut stream) =
        node_with_stream::<A>(&env, AddWatchMode::PersistentRecursive).await;
    let (_, mut children_watch) = zk
        .get_children_and_watch(&path)
        .await
        .want("get_children_and_watch");
    let (_, mut data_watch) = zk
        .get_data_and_watch(&path)
        .await
        .want("get_data_and_watch");

    let child = format!("{path}/child");
    create_node(&zk, &child, b"").await;
    assert_eq!(
        A::wait_watch(&mut children_watch, EVENT_WAIT).await,
        Some(node_event(EventType::NodeChildrenChanged, &path))
    );
    assert_eq!(
        expect_next::<A>(&mut stream, EVENT_WAIT, "recursive watch").await,
        node_event(EventType::NodeCreated, &child)
    );
    zk.set_data(&child, &b"1"[..], None).await.want("set_data");
    assert_eq!(
        expect_next::<A>(&mut stream, EVENT_WAIT, "recursive watch").await,
        node_event(EventType::NodeDataChanged, &child)
    );

    // The stream goes; the data watch it served still fires, then nothing is left.
    drop(stream);
    round_trip(&zk, &path).await;
    zk.set_data(&path, &b"2"[..], None).await.want("set_data");
    assert_eq!(
        A::wait_watch(&mut data_watch, EVENT_WAIT).await,
        Some(node_event(EventType::NodeDataChanged, &path))
    );
    round_trip(&zk, &path).await;
    let err = zk
        .check_watches(&path, WatcherType::Any)
        .await
        .want_err("no watch left on the server");
    assert_eq!(err, WatchesError::NoWatcher);
    assert!(zk.state().is_connected());
}

/// Removing the data watches of a path leaves its persistent watch firing for every event:
/// a 3.8 server strips the persistent watch from its data table on such a removal
/// (ZOOKEEPER-4471), so the client sets it again and tells its stream events may be missed.
pub async fn removing_data_watches_leaves_a_persistent_watch_firing<A: Adapter>(env: Env) {
    let (zk, path, mut stream) = node_with_stream::<A>(&env, AddWatchMode::Persistent).await;
    let (_, mut data_watch) = zk
        .get_data_and_watch(&path)
        .await
        .want("get_data_and_watch");
    zk.remove_watches(&path, WatcherType::Data)
        .await
        .want("remove the data watches");
    assert_eq!(
        A::wait_watch(&mut data_watch, EVENT_WAIT).await,
        Some(node_event(EventType::DataWatchRemoved, &path))
    );
    zk.set_data(&path, &b"1"[..], None).await.want("set_data");
    zk.set_data(&path, &b"2"[..], None).await.want("set_data");
    let mut changes = 0;
    while changes < 2 {
        match expect_next::<A>(&mut stream, EVENT_WAIT, "persistent watch").await {
            WatchEvent::PossiblyMissedEvents => {}
            event => {
                assert_eq!(event, node_event(EventType::NodeDataChanged, &path));
                changes += 1;
            }
        }
    }
}

/// A recursive watch reports created, changed and deleted nodes anywhere below it (and
/// itself), never NodeChildrenChanged, and nothing about a sibling whose name merely starts
/// with the same characters.
pub async fn recursive_watch_sees_descendants_never_children_changed<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let other = env.client::<A>().await;
    let tree = env.path("tree");
    let a = format!("{tree}/a");
    let b = format!("{a}/b");
    create_node(&zk, &tree, b"").await;
    let mut stream = zk
        .add_watch(&tree, AddWatchMode::PersistentRecursive)
        .await
        .want("add_watch recursive");

    create_node(&other, &a, b"").await;
    create_node(&other, &b, b"").await;
    other.set_data(&b, &b"x"[..], None).await.want("set_data");
    create_node(&other, &env.path("tree2"), b"").await;
    other.delete(&b, None).await.want("delete");
    other
        .set_data(&tree, &b"y"[..], None)
        .await
        .want("set_data");

    let expected = [
        node_event(EventType::NodeCreated, &a),
        node_event(EventType::NodeCreated, &b),
        node_event(EventType::NodeDataChanged, &b),
        node_event(EventType::NodeDeleted, &b),
        node_event(EventType::NodeDataChanged, &tree),
    ];
    for (i, want) in expected.iter().enumerate() {
        let got = expect_next::<A>(&mut stream, EVENT_WAIT, "recursive watch").await;
        assert_eq!(&got, want, "event {i}");
    }
    round_trip(&other, &tree).await;
    round_trip(&zk, &tree).await;
    assert_eq!(
        stream.try_next(),
        None,
        "no NodeChildrenChanged and nothing from the sibling"
    );
}

/// remove_watches removes exactly the kind asked for and tells its handle: DataWatchRemoved,
/// ChildWatchRemoved, PersistentWatchRemoved (after which the stream ends); removing what is
/// not there fails with NoWatcher.
pub async fn remove_watches_delivers_watch_removed_events<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("node");
    create_node(&zk, &path, b"").await;
    let (_, mut data_watch) = zk.get_data_and_watch(&path).await.want("watch data");
    let (_, mut child_watch) = zk
        .get_children_and_watch(&path)
        .await
        .want("watch children");

    zk.remove_watches(&path, WatcherType::Data)
        .await
        .want("remove the data watch");
    let event = expect_fired::<A>(&mut data_watch, "removed data watch").await;
    assert_eq!(event, node_event(EventType::DataWatchRemoved, &path));
    zk.check_watches(&path, WatcherType::Children)
        .await
        .want("the children watch is still held");
    assert_eq!(child_watch.try_event(), None);

    zk.remove_watches(&path, WatcherType::Children)
        .await
        .want("remove the children watch");
    let event = expect_fired::<A>(&mut child_watch, "removed children watch").await;
    assert_eq!(event, node_event(EventType::ChildWatchRemoved, &path));

    let err = zk
        .remove_watches(&path, WatcherType::Data)
        .await
        .want_err("removing a watch that is gone");
    assert_eq!(err, WatchesError::NoWatcher);

    let persistent = env.path("persistent");
    create_node(&zk, &persistent, b"").await;
    let mut stream = zk
        .add_watch(&persistent, AddWatchMode::Persistent)
        .await
        .want("add_watch");
    zk.remove_watches(&persistent, WatcherType::Any)
        .await
        .want("remove the persistent watch");
    let event = expect_next::<A>(&mut stream, EVENT_WAIT, "removed persistent watch").await;
    assert_eq!(
        event,
        node_event(EventType::PersistentWatchRemoved, &persistent)
    );
    assert_eq!(
        A::next_event(&mut stream, EVENT_WAIT).await,
        Ok(None),
        "the stream ends after its removal"
    );
    let err = zk
        .check_watches(&persistent, WatcherType::Any)
        .await
        .want_err("check_watches after removal");
    assert_eq!(err, WatchesError::NoWatcher);
}

/// check_watches succeeds for the kinds of watch the session holds on a path and fails with
/// NoWatcher for the others (including on paths never watched), also after the watch fired.
pub async fn check_watches_reports_no_watcher_when_none_is_set<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("node");
    create_node(&zk, &path, b"").await;
    for kind in [WatcherType::Data, WatcherType::Children, WatcherType::Any] {
        let err = zk
            .check_watches(&path, kind)
            .await
            .want_err("check_watches without a watch");
        assert_eq!(err, WatchesError::NoWatcher, "{kind:?}");
    }
    let (_, mut watch) = zk.exists_and_watch(&path).await.want("exists_and_watch");
    zk.check_watches(&path, WatcherType::Data)
        .await
        .want("check the data watch");
    zk.check_watches(&path, WatcherType::Any)
        .await
        .want("check any watch");
    let err = zk
        .check_watches(&path, WatcherType::Children)
        .await
        .want_err("check a children watch that is not set");
    assert_eq!(err, WatchesError::NoWatcher);

    zk.set_data(&path, &b"x"[..], None).await.want("set_data");
    let event = expect_fired::<A>(&mut watch, "exists watch").await;
    assert_eq!(event, node_event(EventType::NodeDataChanged, &path));
    let err = zk
        .check_watches(&path, WatcherType::Any)
        .await
        .want_err("check_watches after the watch fired");
    assert_eq!(err, WatchesError::NoWatcher);
    // (Not checked: another session's check_watches on the path. ZooKeeper 3.8.0 answers OK
    // when any session watches the path: WatchManager.containsWatcher looks only at whether the
    // path has watchers.)
}

/// Dropping a watch handle removes the server watch once no other handle needs it — for
/// one-shot data and children watches and for persistent watches — and a later change is
/// harmless.
pub async fn dropping_the_last_watch_handle_removes_the_server_watch<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("node");
    create_node(&zk, &path, b"").await;

    let (_, first) = zk.get_data_and_watch(&path).await.want("watch data");
    let (_, second) = zk.get_data_and_watch(&path).await.want("watch data again");
    zk.check_watches(&path, WatcherType::Data)
        .await
        .want("data watch held");
    drop(first);
    zk.check_watches(&path, WatcherType::Data)
        .await
        .want("still held for the second handle");
    drop(second);
    let err = zk
        .check_watches(&path, WatcherType::Data)
        .await
        .want_err("check after dropping both handles");
    assert_eq!(err, WatchesError::NoWatcher);

    let (_, children) = zk
        .get_children_and_watch(&path)
        .await
        .want("watch children");
    drop(children);
    let err = zk
        .check_watches(&path, WatcherType::Children)
        .await
        .want_err("check after dropping the children handle");
    assert_eq!(err, WatchesError::NoWatcher);

    let stream = zk
        .add_watch(&path, AddWatchMode::PersistentRecursive)
        .await
        .want("add_watch");
    zk.check_watches(&path, WatcherType::Any)
        .await
        .want("persistent watch held");
    drop(stream);
    let err = zk
        .check_watches(&path, WatcherType::Any)
        .await
        .want_err("check after dropping the stream");
    assert_eq!(err, WatchesError::NoWatcher);

    zk.set_data(&path, &b"x"[..], None).await.want("set_data");
    create_node(&zk, &format!("{path}/child"), b"").await;
    assert!(zk.state().is_connected());
}

/// A consumer that never reads its persistent watch stream cannot stall the session: with an
/// event capacity of 8, 100 events are produced while every call completes promptly; the
/// stream then reports the 8 oldest events, `Lagged(92)` where the others were, and later
/// events again.
pub async fn slow_consumer_of_a_watch_stream_cannot_stall_the_session<A: Adapter>(env: Env) {
    const CAPACITY: usize = 8;
    const EVENTS: usize = 100;
    env.client::<A>().await;
    let zk = env
        .client_with::<A>(env.options().event_capacity(CAPACITY))
        .await;
    let dir = env.path("dir");
    create_node(&zk, &dir, b"").await;
    let mut stream = zk
        .add_watch(&dir, AddWatchMode::PersistentRecursive)
        .await
        .want("add_watch");

    let started = Instant::now();
    for i in 0..EVENTS {
        let path = format!("{dir}/n{i:03}");
        let call = zk.create(&path, &b""[..], CreateMode::Persistent);
        let created = A::timeout(Duration::from_secs(10), call).await;
        match created {
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("create {i} failed: {e:?}"),
            None => panic!("create {i} did not complete within 10 s: the session is stalled"),
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(30),
        "{EVENTS} creates took {elapsed:?}"
    );
    round_trip(&zk, &dir).await;

    for i in 0..CAPACITY {
        let event = expect_next::<A>(&mut stream, EVENT_WAIT, "buffered event").await;
        assert_eq!(
            event,
            node_event(EventType::NodeCreated, &format!("{dir}/n{i:03}")),
            "buffered event {i}"
        );
    }
    let lagged = expect_next::<A>(&mut stream, EVENT_WAIT, "lagging stream").await;
    assert_eq!(lagged, WatchEvent::Lagged((EVENTS - CAPACITY) as u64));
    assert_eq!(stream.try_next(), None, "everything buffered was read");
    zk.set_data(&dir, &b"again"[..], None)
        .await
        .want("set_data");
    let event = expect_next::<A>(&mut stream, EVENT_WAIT, "event after catching up").await;
    assert_eq!(event, node_event(EventType::NodeDataChanged, &dir));
}
