//! The recipes (zk-recipes) on every adapter: the building blocks, protected creates, retries
//! and the mutex (exclusion, fairness, one waiter woken per release, fencing tokens, giving
//! up, and losing the lock with the session).

use std::time::{Duration, Instant};

use zk_client::ops::{self, ErrorKind, GetDataError};
use zk_client::proto::{CreateMode, SessionId};
use zk_client::{CommonError, SessionState};
use zk_recipes::{
    create_all, create_protected, delete_all, ensure_path, retry, Barrier, Conditional, Counter,
    CounterError, DoubleBarrier, Election, LatchEnded, LeadershipEvent, LockError, LossPolicy,
    Mutex, Parents, Protected, RetryPolicy, RwLock, Semaphore,
};

use super::{create_node, sorted, Want};
use crate::conformance::{shared_server, Adapter, Api, Connect, Env, EVENT_WAIT};
use crate::proxy::ReplyCutter;

/// The children of `path` (none when it does not exist).
async fn children<C: Api>(client: &C, path: &str) -> Vec<String> {
    match client.get_children(path).await {
        Ok((children, _)) => sorted(children),
        Err(e) if *e.kind() == ops::GetChildrenError::NoNode => Vec::new(),
        Err(e) => panic!("get_children {path}: {e}"),
    }
}

/// `create_all` creates missing parents (persistent or container), `ensure_path` is idempotent,
/// `delete_all` removes a subtree and takes a missing node for done.
pub async fn building_blocks_create_parents_and_delete_subtrees<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let deep = env.path("a/b/c");
    let created = create_all(
        &zk,
        ops::Create::new(deep.clone(), &b"leaf"[..]),
        Parents::Persistent,
    )
    .await
    .want("create_all");
    assert_eq!(created.path, deep);
    let (data, _) = zk.get_data(&deep).await.want("get_data");
    assert_eq!(&data[..], b"leaf");
    let again = create_all(
        &zk,
        ops::Create::new(deep.clone(), &b""[..]),
        Parents::Persistent,
    )
    .await
    .want_err("create_all of an existing node");
    assert_eq!(*again.kind(), ErrorKind::NodeExists);
    assert_eq!(
        again.to_string(),
        format!("create {deep}: node exists (NODEEXISTS)")
    );

    let containers = env.path("boxes/x/y");
    ensure_path(&zk, &containers, Parents::Container)
        .await
        .want("ensure_path");
    ensure_path(&zk, &containers, Parents::Container)
        .await
        .want("ensure_path again");
    let stat = zk
        .exists(&env.path("boxes"))
        .await
        .want("exists")
        .expect("created");
    assert_eq!(stat.ephemeral_owner, SessionId(0));

    create_node(&zk, &env.path("a/b/c/d"), b"").await;
    create_node(&zk, &env.path("a/b/e"), b"").await;
    delete_all(&zk, &env.path("a")).await.want("delete_all");
    assert_eq!(zk.exists(&env.path("a")).await.want("exists"), None);
    delete_all(&zk, &env.path("a"))
        .await
        .want("delete_all of a missing node");
}

/// A protected create makes one node, named with its marker, owned by the session; a
/// persistent mode is refused before anything is sent; retries accept only safe calls.
pub async fn protected_creates_and_retries<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let parent = env.path("members");
    create_node(&zk, &parent, b"").await;
    let outcome = create_protected(
        &zk,
        &parent,
        "member-",
        &b"me"[..],
        CreateMode::EphemeralSequential,
    )
    .await
    .want("create_protected");
    let Protected::Created(node) = &outcome else {
        panic!("no ConnectionLoss here: the reply came ({outcome:?})");
    };
    let name = node.path.rsplit('/').next().unwrap_or_default();
    assert!(
        name.starts_with("_c_") && name.contains("-member-") && name.len() == 3 + 32 + 1 + 7 + 10,
        "{name}"
    );
    assert_eq!(node.stat.ephemeral_owner, zk.session_id());
    assert_eq!(children(&zk, &parent).await, [name]);

    let refused = create_protected(&zk, &parent, "p", &b""[..], CreateMode::Persistent)
        .await
        .want_err("a persistent protected create");
    assert!(
        matches!(
            refused.kind(),
            ErrorKind::Common(CommonError::InvalidArgument(_))
        ),
        "{refused}"
    );
    assert_eq!(children(&zk, &parent).await.len(), 1, "nothing was sent");

    let read = retry(
        &zk,
        RetryPolicy::default(),
        ops::GetData::new(parent.clone()),
    )
    .await
    .want("a retried read");
    assert_eq!(&read.0[..], b"");
    let missing = retry(
        &zk,
        RetryPolicy::default(),
        ops::GetData::new(env.path("none")),
    )
    .await
    .want_err("a retried read of a missing node");
    assert_eq!(missing, GetDataError::NoNode);
    assert!(Conditional::set_data(ops::SetData::new(parent.clone(), &b"x"[..])).is_none());
    let conditional =
        Conditional::set_data(ops::SetData::new(parent.clone(), &b"x"[..]).version(0))
            .expect("a versioned set_data is conditional");
    let stat = retry(&zk, RetryPolicy::default(), conditional)
        .await
        .want("a retried conditional write");
    assert_eq!(stat.version, 1);
}

/// A protected create whose reply is lost (the server applied the create; the connection was
/// cut before the reply came) finds its node on the same session once reconnected: exactly
/// one node, owned by the session, reported as recovered; for ephemeral and
/// ephemeral-sequential nodes.
pub async fn protected_create_recovers_a_node_whose_reply_was_lost<A: Adapter>(env: Env) {
    let cutter = ReplyCutter::start(shared_server().client_addr()).expect("start the proxy");
    let direct = env.client::<A>().await;
    let zk = env
        .client_with::<A>(Connect::new(cutter.connect_string()))
        .await;
    let session = zk.session_id();
    let parent = env.path("members");
    create_node(&direct, &parent, b"").await;
    for (i, mode) in [CreateMode::Ephemeral, CreateMode::EphemeralSequential]
        .into_iter()
        .enumerate()
    {
        let name = format!("node{i}");
        cutter.lose_next_create_reply();
        let outcome = create_protected(&zk, &parent, &name, &b"once"[..], mode)
            .await
            .want("a protected create whose reply is lost");
        assert_eq!(
            cutter.replies_lost(),
            i + 1,
            "[{}] the reply was lost",
            A::NAME
        );
        let Protected::Recovered(node) = &outcome else {
            panic!(
                "[{}] {mode:?}: expected the node recovered, got {outcome:?}",
                A::NAME
            );
        };
        let mine: Vec<String> = children(&direct, &parent)
            .await
            .into_iter()
            .filter(|c| c.contains(&name))
            .collect();
        assert_eq!(
            mine.len(),
            1,
            "[{}] {mode:?}: exactly one node: {mine:?}",
            A::NAME
        );
        assert_eq!(node.path, format!("{parent}/{}", mine[0]));
        assert_eq!(node.stat.ephemeral_owner, session, "owned by the session");
        assert_eq!(zk.session_id(), session, "the same session throughout");
    }
}

/// The children of `path` (none while it does not exist) once they satisfy `done`, woken by a
/// children watch (an exists watch while the node is missing); panics with `what` after
/// [`EVENT_WAIT`].
pub(crate) async fn wait_for_children<A: Adapter>(
    client: &A::Client,
    path: &str,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    loop {
        let mut watch = match client.get_children_and_watch(path).await {
            Ok(((children, _), watch)) => {
                let children = sorted(children);
                if done(&children) {
                    return children;
                }
                watch
            }
            Err(e) if *e.kind() == ops::GetChildrenError::NoNode => {
                let (stat, watch) = client.exists_and_watch(path).await.want("exists_and_watch");
                if stat.is_some() {
                    continue;
                }
                if done(&[]) {
                    return Vec::new();
                }
                watch
            }
            Err(e) => panic!("[{}] {what}: get_children {path}: {e}", A::NAME),
        };
        if A::wait_watch(&mut watch, EVENT_WAIT).await.is_none() {
            panic!("[{}] {what}: not within {EVENT_WAIT:?}", A::NAME);
        }
    }
}

/// Waits until `client` has had `replies` replies, checking every 10 ms (a contender that
/// has them has created its node, listed the lock and set its watch).
async fn wait_for_replies<A: Adapter>(client: &A::Client, replies: u64, what: &str) {
    let deadline = Instant::now() + EVENT_WAIT;
    while client.stats().session.replies_received < replies {
        assert!(
            Instant::now() < deadline,
            "[{}] {what}: no {replies} replies",
            A::NAME
        );
        A::sleep(Duration::from_millis(10)).await;
    }
}

/// Ten waiters queue behind a holder; each release wakes exactly one of them (one watch
/// notification among all ten), they acquire in the order they came, with growing fencing
/// tokens, and nothing is left behind. A waiter that gives up removes its node.
pub async fn mutex_is_fair_and_each_release_wakes_one_waiter<A: Adapter>(env: Env) {
    const WAITERS: usize = 10;
    let holder = env.client::<A>().await;
    let lock = env.path("lock");
    let mutex = Mutex::new(holder.clone(), lock.clone());
    let first = mutex.acquire().await.want("acquire an uncontended lock");
    assert_eq!(children(&holder, &lock).await.len(), 1);

    // A waiter that gives up in time removes its node.
    let impatient = mutex
        .try_acquire(Duration::from_millis(300))
        .await
        .want("try_acquire");
    assert!(impatient.is_none(), "the lock is held");
    assert_eq!(
        children(&holder, &lock).await.len(),
        1,
        "the impatient node is gone"
    );

    let mut waiters = Vec::new();
    for i in 0..WAITERS {
        let client = env.client::<A>().await;
        let base = client.stats().session.replies_received;
        let mutex = Mutex::new(client.clone(), lock.clone());
        let task = A::spawn(async move { mutex.acquire().await });
        // In turn, so that the queue order is known: create, list, watch.
        wait_for_replies::<A>(&client, base + 3, &format!("waiter {i} queued")).await;
        waiters.push((client, task));
    }
    assert_eq!(children(&holder, &lock).await.len(), WAITERS + 1);

    let (clients, tasks): (Vec<A::Client>, Vec<_>) = waiters.into_iter().unzip();
    // The notifications the waiters still waiting get (a holder that waited is notified of
    // its own node's deletion when it releases: its watch on it stays armed until then).
    let woken = |waiting: &[A::Client]| -> u64 {
        waiting
            .iter()
            .map(|c| c.stats().session.watch_notifications)
            .sum()
    };
    let mut token = first.fencing_token();
    let mut held = first;
    let mut in_all = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        let before = woken(&clients[i..]);
        held.release().await.want("release");
        let next = A::timeout(EVENT_WAIT, task)
            .await
            .unwrap_or_else(|| panic!("[{}] waiter {i} never acquired the lock", A::NAME))
            .want("acquire");
        let woke = woken(&clients[i..]) - before;
        assert_eq!(woke, 1, "[{}] release {i} woke exactly one waiter", A::NAME);
        in_all += woke;
        assert!(next.fencing_token() > token, "fencing tokens grow");
        token = next.fencing_token();
        held = next;
    }
    held.release().await.want("the last release");
    assert_eq!(
        in_all, WAITERS as u64,
        "one notification per release in all"
    );
    assert!(
        children(&holder, &lock).await.is_empty(),
        "no lock node left behind"
    );

    // An acquire dropped while it waits removes its node.
    let blocker = mutex.acquire().await.want("acquire again");
    let dropped = A::timeout(Duration::from_millis(300), mutex.acquire()).await;
    assert!(dropped.is_none(), "the lock is held");
    wait_for_children::<A>(&holder, &lock, "the dropped acquire's node goes", |c| {
        c.len() <= 1
    })
    .await;
    blocker.release().await.want("release");

    // A free lock is taken even with a zero wait (the queue is always read once).
    let free = mutex
        .try_acquire(Duration::ZERO)
        .await
        .want("try_acquire with a zero wait");
    free.expect("a free lock").release().await.want("release");
}

/// A holder whose session ends learns that the lock is lost (`lost()` resolves, `is_held()`
/// turns false), and its node is gone for the next contender.
pub async fn mutex_holder_learns_the_lock_is_lost_with_its_session<A: Adapter>(env: Env) {
    let lock = env.path("lock");
    let holder = env.client::<A>().await;
    let mut guard = Mutex::new(holder.clone(), lock.clone())
        .loss_policy(LossPolicy::OnSessionEnd)
        .acquire()
        .await
        .want("acquire");
    assert!(guard.is_held());
    let other = env.client::<A>().await;
    let waiting = {
        let mutex = Mutex::new(other.clone(), lock.clone());
        A::spawn(async move { mutex.acquire().await })
    };
    assert_eq!(holder.close().await, SessionState::Closed);
    A::timeout(EVENT_WAIT, guard.lost())
        .await
        .expect("the loss is reported");
    assert!(!guard.is_held());
    let next = A::timeout(EVENT_WAIT, waiting)
        .await
        .expect("the next contender acquires once the holder's session is gone")
        .want("acquire");
    drop(guard);
    next.release().await.want("release");

    // A waiter whose node someone else deletes is told so.
    let holder_again = env.client::<A>().await;
    let held = Mutex::new(holder_again.clone(), lock.clone())
        .acquire()
        .await
        .want("acquire");
    let waiter = env.client::<A>().await;
    let waiting = {
        let mutex = Mutex::new(waiter.clone(), lock.clone());
        A::spawn(async move { mutex.acquire().await })
    };
    let queued =
        wait_for_children::<A>(&holder_again, &lock, "the waiter queued", |c| c.len() == 2).await;
    let victim = format!("{lock}/{}", queued[1]);
    let victim = if victim.ends_with(held.node().rsplit('/').next().unwrap_or_default()) {
        format!("{lock}/{}", children(&holder_again, &lock).await[0])
    } else {
        victim
    };
    holder_again
        .delete(&victim, None)
        .await
        .want("delete the waiter's node");
    let told = A::timeout(EVENT_WAIT, waiting)
        .await
        .expect("the waiter is told");
    assert!(
        matches!(&told, Err(LockError::NodeDeleted { node, .. }) if *node == victim),
        "[{}] {told:?}",
        A::NAME
    );
    held.release().await.want("release");

    // Acquiring on a closed session fails with a typed error.
    let closed = Mutex::new(holder.clone(), lock.clone()).acquire().await;
    assert!(
        matches!(&closed, Err(LockError::Zk(e)) if e.common() == Some(CommonError::Closed)),
        "{closed:?}"
    );
}

/// Waits until the election at `path` has `count` participants.
async fn wait_for_participants<A: Adapter>(client: &A::Client, path: &str, count: usize) {
    let what = format!("{count} participants");
    wait_for_children::<A>(client, path, &what, |c| c.len() == count).await;
}

/// Three participants: the first to join leads, the others are listed behind it; its
/// stepping down hands leadership to the next (with a greater fencing token), and a leader
/// whose session ends is told it lost leadership while the next one takes over.
pub async fn leader_latch_elects_one_leader_and_hands_over<A: Adapter>(env: Env) {
    let path = env.path("election");
    let clients = [
        env.client::<A>().await,
        env.client::<A>().await,
        env.client::<A>().await,
    ];
    let first = Election::new(clients[0].clone(), path.clone()).join(&b"a"[..]);
    let token = A::timeout(EVENT_WAIT, first.wait_leader())
        .await
        .expect("the first participant leads")
        .want("wait_leader");
    assert!(first.is_leader());
    let second = Election::new(clients[1].clone(), path.clone()).join(&b"b"[..]);
    wait_for_participants::<A>(&clients[0], &path, 2).await;
    let third = Election::new(clients[2].clone(), path.clone()).join(&b"c"[..]);
    wait_for_participants::<A>(&clients[0], &path, 3).await;
    let election = Election::new(clients[0].clone(), path.clone());
    let listed = election.participants().await.want("participants");
    let ids: Vec<(&[u8], bool)> = listed.iter().map(|p| (&p.id[..], p.leader)).collect();
    assert_eq!(
        ids,
        [(&b"a"[..], true), (&b"b"[..], false), (&b"c"[..], false)]
    );
    assert!(!second.is_leader() && !third.is_leader());

    first.close().await;
    let second_token = A::timeout(EVENT_WAIT, second.wait_leader())
        .await
        .expect("the second participant takes over")
        .want("wait_leader");
    assert!(second_token > token, "fencing tokens grow");
    assert_eq!(
        A::timeout(EVENT_WAIT, second.next_event()).await.flatten(),
        Some(LeadershipEvent::Gained(second_token))
    );
    assert!(!third.is_leader());

    // The leader's session ends: it is told, and the third takes over.
    assert_eq!(clients[1].close().await, SessionState::Closed);
    assert_eq!(
        A::timeout(EVENT_WAIT, second.next_event()).await.flatten(),
        Some(LeadershipEvent::Lost),
        "[{}] the leader is told it lost leadership",
        A::NAME
    );
    assert!(!second.is_leader());
    assert!(
        matches!(second.ended(), Some(LatchEnded::Zk(e)) if e.common() == Some(CommonError::Closed)),
        "{:?}",
        second.ended()
    );
    let third_token = A::timeout(EVENT_WAIT, third.wait_leader())
        .await
        .expect("the third participant takes over")
        .want("wait_leader");
    assert!(third_token > second_token);
    third.close().await;
    assert!(election
        .participants()
        .await
        .want("participants")
        .is_empty());
}

/// Four clients add to one counter at once: no increment is lost. A node that holds something
/// else is refused with a typed error.
pub async fn counter_counts_every_concurrent_increment<A: Adapter>(env: Env) {
    const CLIENTS: usize = 4;
    const ADDS: usize = 25;
    let path = env.path("counters/hits");
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let counter = Counter::new(env.client::<A>().await, path.clone());
        tasks.push(A::spawn(async move {
            for _ in 0..ADDS {
                counter.add(1).await?;
            }
            Ok::<_, CounterError>(())
        }));
    }
    for task in tasks {
        A::timeout(EVENT_WAIT, task)
            .await
            .expect("the increments finish")
            .want("add");
    }
    let zk = env.client::<A>().await;
    let counter = Counter::new(zk.clone(), path.clone());
    assert_eq!(counter.get().await.want("get"), (CLIENTS * ADDS) as i64);
    assert_eq!(
        counter.add(-5).await.want("add"),
        (CLIENTS * ADDS) as i64 - 5
    );
    assert_eq!(
        Counter::new(zk.clone(), env.path("fresh"))
            .get()
            .await
            .want("get"),
        0
    );

    create_node(&zk, &env.path("text"), b"abc").await;
    let refused = Counter::new(zk, env.path("text")).add(1).await;
    assert!(
        matches!(refused, Err(CounterError::NotACounter { len: 3, .. })),
        "{refused:?}"
    );
}

/// A barrier holds its waiters until removed; a double barrier lets three participants
/// start together and finish together.
pub async fn barriers_hold_and_release_their_participants<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let barrier = Barrier::new(zk.clone(), env.path("gate"));
    barrier.set().await.want("set");
    barrier.set().await.want("set again");
    let waiting = {
        let barrier = Barrier::new(env.client::<A>().await, env.path("gate"));
        A::spawn(async move { barrier.wait().await })
    };
    assert!(
        A::timeout(Duration::from_millis(300), barrier.wait())
            .await
            .is_none(),
        "the barrier holds"
    );
    barrier.remove().await.want("remove");
    A::timeout(EVENT_WAIT, waiting)
        .await
        .expect("the waiter is released")
        .want("wait");

    let path = env.path("double");
    let mut entering = Vec::new();
    for _ in 0..2 {
        let mut member = DoubleBarrier::new(env.client::<A>().await, path.clone(), 3);
        entering.push(A::spawn(
            async move { member.enter().await.map(|()| member) },
        ));
    }
    let mut last = DoubleBarrier::new(zk.clone(), path.clone(), 3);
    // The two others wait for a third: give them time to join first.
    wait_for_children::<A>(&zk, &path, "the first two entered", |c| c.len() >= 2).await;
    assert!(
        A::timeout(Duration::from_millis(200), &mut entering[0])
            .await
            .is_none(),
        "[{}] two of three cannot start",
        A::NAME
    );
    A::timeout(EVENT_WAIT, last.enter())
        .await
        .expect("the third enters at once")
        .want("enter");
    let mut members = Vec::new();
    for task in entering {
        members.push(
            A::timeout(EVENT_WAIT, task)
                .await
                .expect("the others are let in with the third")
                .want("enter"),
        );
    }
    let mut leaving = Vec::new();
    for mut member in members {
        leaving.push(A::spawn(async move { member.leave().await }));
    }
    A::timeout(EVENT_WAIT, last.leave())
        .await
        .expect("everyone leaves")
        .want("leave");
    for task in leaving {
        A::timeout(EVENT_WAIT, task)
            .await
            .expect("everyone leaves")
            .want("leave");
    }
    assert!(children(&zk, &path).await.is_empty(), "nothing left behind");
}

/// Readers share a read-write lock; a writer waits for the readers before it and holds it
/// alone; a reader that comes after a waiting writer waits for that writer.
pub async fn read_write_lock_shares_reads_and_orders_writes<A: Adapter>(env: Env) {
    let path = env.path("rw");
    let a = RwLock::new(env.client::<A>().await, path.clone());
    let b = RwLock::new(env.client::<A>().await, path.clone());
    let c = RwLock::new(env.client::<A>().await, path.clone());
    let read_a = a.read().await.want("a reads");
    let read_b = A::timeout(EVENT_WAIT, b.read())
        .await
        .expect("readers share the lock")
        .want("b reads");
    let mut writer = {
        let c = c.clone();
        A::spawn(async move { c.write().await })
    };
    let watcher = env.client::<A>().await;
    wait_for_children::<A>(&watcher, &path, "the writer queued", |c| c.len() >= 3).await;
    assert!(
        A::timeout(Duration::from_millis(300), &mut writer)
            .await
            .is_none(),
        "the writer waits for the readers"
    );
    let late = a
        .try_read(Duration::from_millis(300))
        .await
        .want("a late reader");
    assert!(
        late.is_none(),
        "a reader after a waiting writer waits for it"
    );
    read_a.release().await.want("release");
    read_b.release().await.want("release");
    let write = A::timeout(EVENT_WAIT, writer)
        .await
        .expect("the writer gets the lock once the readers are gone")
        .want("write");
    assert!(
        b.try_read(Duration::from_millis(300))
            .await
            .want("read")
            .is_none(),
        "the writer holds it alone"
    );
    write.release().await.want("release");
    let read = A::timeout(EVENT_WAIT, b.read())
        .await
        .expect("readers again")
        .want("read");
    read.release().await.want("release");
    assert!(
        children(&watcher, &path).await.is_empty(),
        "nothing left behind"
    );
}

/// A semaphore with two leases: two holders at once, a third waits until one releases.
pub async fn semaphore_grants_at_most_its_leases<A: Adapter>(env: Env) {
    let path = env.path("semaphore");
    let first = Semaphore::new(env.client::<A>().await, path.clone(), 2);
    let second = Semaphore::new(env.client::<A>().await, path.clone(), 2);
    let third = Semaphore::new(env.client::<A>().await, path.clone(), 2);
    let one = first.acquire().await.want("first lease");
    let two = A::timeout(EVENT_WAIT, second.acquire())
        .await
        .expect("a second lease at once")
        .want("second lease");
    assert!(
        third
            .try_acquire(Duration::from_millis(300))
            .await
            .want("third")
            .is_none(),
        "no third lease"
    );
    let waiting = {
        let third = third.clone();
        A::spawn(async move { third.acquire().await })
    };
    one.release().await.want("release");
    let three = A::timeout(EVENT_WAIT, waiting)
        .await
        .expect("the third gets the freed lease")
        .want("third lease");
    two.release().await.want("release");
    three.release().await.want("release");
}
