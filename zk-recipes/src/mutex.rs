//! A fair distributed mutex: one ephemeral-sequential node per contender under the lock's path,
//! the lowest sequence number holds the lock, and each waiter watches only the node just
//! before its own, so a release wakes exactly one waiter (no herd).
//!
//! Compared with Curator's `InterProcessMutex` and kazoo's `Lock`: the same node layout and
//! ordering; contender nodes are created protected (a create whose reply is lost is found, not
//! repeated); a timed-out or dropped acquire removes its node, even when dropped while its
//! create was in flight; the holder gets a fencing token; and whether the lock may have been
//! lost is decided by a [`LossPolicy`]. Not re-entrant: a second `acquire` from the same
//! process queues behind the first, like any other contender (kazoo's `Lock` is not re-entrant
//! either; Curator's is, per thread, which async tasks do not map to).

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_client::ops::{Delete, DeleteError, Error, GetChildren, Operation};
use zk_client::proto::Zxid;
use zk_client::SessionState;

use crate::client::{
    outcome_unknown, reconnected, remove, remove_in_background, Fire, Fired, States, Zk,
};
use crate::protected::{new_marker, remove_marked};
use crate::queue::{self, first_fired, Member, Woke};

/// The name of contender nodes, after the protection marker and before the sequence number.
const CONTENDER: &str = "lock-";

/// When a held lock counts as possibly lost (Curator's `ConnectionStateErrorPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LossPolicy {
    /// Lost when the session ends (expired, closed): a disconnect the session survives keeps
    /// the lock, since the server keeps the ephemeral node until the session expires (Curator's
    /// `SessionConnectionStateErrorPolicy`).
    #[default]
    OnSessionEnd,
    /// Possibly lost as soon as the connection is: while disconnected the client cannot know
    /// whether its session is still alive (Curator's `StandardConnectionStateErrorPolicy`).
    OnDisconnect,
}

impl LossPolicy {
    /// Whether a session in `state`, last confirmed by a server `unconfirmed` ago, with this
    /// negotiated `timeout`, may have lost what it held: by its state, or because no server
    /// confirmed it for as long as the servers wait before expiring it (the negotiated timeout;
    /// 2/3 of it, the read timeout, under `OnDisconnect`), which a process paused for that long
    /// learns before its timers have run.
    pub(crate) fn lost(
        self,
        state: SessionState,
        unconfirmed: Duration,
        timeout: Option<Duration>,
    ) -> bool {
        if self.lost_in(state) {
            return true;
        }
        let limit = match (self, timeout) {
            (_, None) => return false,
            (LossPolicy::OnSessionEnd, Some(timeout)) => timeout,
            (LossPolicy::OnDisconnect, Some(timeout)) => timeout * 2 / 3,
        };
        unconfirmed >= limit
    }

    /// Whether a session in `state` may have lost what it held.
    pub(crate) fn lost_in(self, state: SessionState) -> bool {
        match self {
            LossPolicy::OnSessionEnd => state.is_terminal(),
            LossPolicy::OnDisconnect => !matches!(
                state,
                SessionState::Connected | SessionState::ConnectedReadOnly
            ),
        }
    }
}

/// A number that grows with each holder of a lock: the creation zxid of the holder's node.
/// Hand it to the resource the lock protects, which refuses a token lower than one it has
/// seen (a holder that lost the lock without knowing it then cannot do harm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(pub Zxid);

/// Why an acquire failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// A call failed (the session expired, a missing ACL, ...).
    #[error("lock: {0}")]
    Zk(#[from] Error),
    /// The contender's node was deleted by someone else while it waited.
    #[error("lock {lock}: the contender node {node} was deleted by someone else")]
    NodeDeleted {
        /// The lock's path.
        lock: String,
        /// The contender's node.
        node: String,
    },
}

/// How a queue member gets its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// First in the queue (a mutex, a write lock): watches the member just before.
    Exclusive,
    /// No writer before it (a read lock): watches the last writer before it.
    Shared,
    /// Among the first `n` (a semaphore's leases): re-lists when the queue changes.
    Leases(usize),
}

/// A lock's queue: what the mutex, the read-write lock and the semaphore share.
#[derive(Debug, Clone)]
struct Queue<C> {
    zk: C,
    path: String,
    policy: LossPolicy,
    kind: Kind,
    /// The members' name (after the protection marker and before the sequence number).
    prefix: &'static str,
}

impl<C: Zk> Queue<C> {
    async fn acquire(&self) -> Result<LockGuard<C>, LockError> {
        let mut contender = Contender::new(self.zk.clone());
        let (node, listed) = self.enter(&mut contender).await?;
        match self.wait_for_turn(&node, None, listed).await? {
            Waited::Turn(own_watch) => Ok(self.guard(contender, node, own_watch)),
            // Without a deadline the wait does not end before the turn.
            Waited::TimedOut => unreachable!("waiting without a deadline"),
        }
    }

    /// The queue is always read once, however short `wait`: a free lock is taken even with a
    /// zero wait. Only the waiting for a turn is bounded.
    async fn try_acquire(&self, wait: Duration) -> Result<Option<LockGuard<C>>, LockError> {
        let deadline = Instant::now().checked_add(wait);
        let mut contender = Contender::new(self.zk.clone());
        let (node, listed) = self.enter(&mut contender).await?;
        if let Waited::Turn(own_watch) = self.wait_for_turn(&node, deadline, listed).await? {
            return Ok(Some(self.guard(contender, node, own_watch)));
        }
        // Gone when this returns.
        contender.disarm();
        remove(&self.zk, &node.path).await;
        Ok(None)
    }

    /// Waits for `watch` until `deadline`: `None` when the deadline passed first.
    async fn wait_watch<F>(&self, watch: F, deadline: Option<Instant>) -> Option<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        match deadline {
            None => Some(watch.await),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                self.zk.within(left, watch).await
            }
        }
    }

    fn guard(
        &self,
        mut contender: Contender<C>,
        member: Member,
        own_watch: Option<Fired>,
    ) -> LockGuard<C> {
        contender.disarm();
        LockGuard {
            _own_watch: OwnWatch { _armed: own_watch },
            zk: self.zk.clone(),
            states: self.zk.states(),
            policy: self.policy,
            node: member.path,
            token: FencingToken(member.czxid),
            released: false,
        }
    }

    /// Creates the contender's node (protected), creating the lock's path when missing; with
    /// it, the queue as listed right after the create (pipelined: one round trip for both),
    /// when both succeeded.
    async fn enter(
        &self,
        contender: &mut Contender<C>,
    ) -> Result<(Member, Option<Vec<String>>), LockError> {
        let marker = new_marker();
        contender.creating(&self.path, &marker);
        let (member, listed) =
            queue::join_and_list(&self.zk, &self.path, self.prefix, &marker, Bytes::new()).await?;
        contender.created(&member.path);
        Ok((member, listed))
    }

    /// Waits until `member`'s turn has come, or `deadline` has passed.
    async fn wait_for_turn(
        &self,
        member: &Member,
        deadline: Option<Instant>,
        mut listed: Option<Vec<String>>,
    ) -> Result<Waited, LockError> {
        loop {
            if let Kind::Leases(leases) = self.kind {
                // Listed with a watch: any change of the queue wakes a lease's waiter.
                let (children, watch) = match self.zk.get_children_and_watch(&self.path).await {
                    Ok(listed) => listed,
                    Err(e) if outcome_unknown(e.common()) => {
                        reconnected(&self.zk).await;
                        continue;
                    }
                    Err(e) => return Err(Error::from(e).into()),
                };
                let members = queue::in_order(children);
                match members.iter().position(|m| *m == member.name) {
                    None => return Err(self.vanished(member)),
                    Some(mine) if mine < leases => return Ok(Waited::Turn(None)),
                    Some(_) if self.wait_watch(watch, deadline).await.is_some() => continue,
                    Some(_) => return Ok(Waited::TimedOut),
                }
            }
            let mut members = match listed.take() {
                Some(members) => members,
                None => queue::members(&self.zk, &self.path).await?,
            };
            let Some(blocker) = self.blocker(&members, member)? else {
                return Ok(Waited::Turn(None));
            };
            let blocker_path = queue::child(&self.path, &members[blocker]);
            // Both watches at once (one round trip): the blocker's, which fires when it goes,
            // and the member's own, which fires if someone else deletes it.
            let on_blocker = self.zk.exists_and_watch(&blocker_path);
            let on_self = self.zk.exists_and_watch(&member.path);
            match (on_blocker.await, on_self.await) {
                (_, Ok((None, _))) => return Err(self.vanished(member)),
                // The blocker gone between the listing and the watch: look again.
                (Ok((None, _)), _) => {}
                (Ok((Some(_), blocker_watch)), Ok((Some(_), own))) => {
                    match self
                        .wait_watch(first_fired(own, blocker_watch), deadline)
                        .await
                    {
                        None => return Ok(Waited::TimedOut),
                        // The blocker left. Members join at the end (a greater sequence number
                        // than any before), so those before this one can only leave: when the
                        // listing had no other blocker, none can have come, and the turn has
                        // come without listing again (a hand-over is the notification alone).
                        // Otherwise the listing is stale: look again.
                        Some(Woke::Blocker(Fire::Deleted, own)) => {
                            members.remove(blocker);
                            if self.blocker(&members, member)?.is_none() {
                                return Ok(Waited::Turn(Some(own)));
                            }
                        }
                        // The member's node deleted or changed, the blocker changed, or the
                        // session ended: the next listing says which.
                        Some(_) => {}
                    }
                }
                (Err(e), _) | (_, Err(e)) if outcome_unknown(e.common()) => {
                    reconnected(&self.zk).await
                }
                (Err(e), _) | (_, Err(e)) => return Err(Error::from(e).into()),
            }
        }
    }

    /// The index of what blocks `member` in the queue `members`: `None` when its turn has come.
    fn blocker(&self, members: &[String], member: &Member) -> Result<Option<usize>, LockError> {
        let Some(mine) = members.iter().position(|m| *m == member.name) else {
            return Err(self.vanished(member));
        };
        Ok(match self.kind {
            Kind::Exclusive => mine.checked_sub(1),
            Kind::Shared => members[..mine].iter().rposition(|m| is_writer(m)),
            Kind::Leases(_) => None,
        })
    }

    fn vanished(&self, member: &Member) -> LockError {
        let state = self.zk.state();
        if state.is_terminal() {
            let failed = GetChildren::new(&self.path).fail(state.terminal_error());
            LockError::Zk(failed.into())
        } else {
            LockError::NodeDeleted {
                lock: self.path.clone(),
                node: member.path.clone(),
            }
        }
    }
}

/// How a wait for a turn ended.
enum Waited {
    /// The turn came; with the member's own node's watch when it waited (see [`Woke`]).
    Turn(Option<Fired>),
    /// The deadline passed first.
    TimedOut,
}

/// A holder's watch on its own node, when it waited: kept until the node is deleted, which
/// fires it (dropped armed, the client would ask the server to remove it).
struct OwnWatch {
    _armed: Option<Fired>,
}

impl std::fmt::Debug for OwnWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self._armed.is_some() {
            "OwnWatch(armed)"
        } else {
            "OwnWatch(none)"
        })
    }
}

/// The name of a read-write lock's writers.
const WRITER: &str = "write-";
/// The name of a read-write lock's readers.
const READER: &str = "read-";
/// The name of a semaphore's leases.
const LEASE: &str = "lease-";

fn is_writer(name: &str) -> bool {
    // `_c_<marker>-write-<sequence>`: the name after the marker.
    name.get(..name.len().saturating_sub(10))
        .is_some_and(|head| head.ends_with(WRITER))
}

/// A distributed mutex at a path (see the module docs). Cheap to clone; each `acquire` is a
/// contender of its own.
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use std::time::Duration;
/// use zk_recipes::Mutex;
///
/// let mutex = Mutex::new(client.clone(), "/locks/report");
/// let guard = mutex.acquire().await?;
/// // Hand the token to what the lock protects: it refuses tokens older than one it has seen.
/// let token = guard.fencing_token();
/// assert!(mutex.try_acquire(Duration::from_millis(100)).await?.is_none(), "held");
/// guard.release().await?;
/// let next = mutex.acquire().await?;
/// assert!(next.fencing_token() > token);
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct Mutex<C>(Queue<C>);

impl<C: Zk> Mutex<C> {
    /// The mutex at `path` (created, with its parents, as container nodes when missing).
    pub fn new(zk: C, path: impl Into<String>) -> Mutex<C> {
        Mutex(Queue {
            zk,
            path: path.into(),
            policy: LossPolicy::default(),
            kind: Kind::Exclusive,
            prefix: CONTENDER,
        })
    }

    /// When a held lock counts as possibly lost (default: when the session ends).
    pub fn loss_policy(mut self, policy: LossPolicy) -> Mutex<C> {
        self.0.policy = policy;
        self
    }

    /// The lock's path.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// Waits until the lock is held. Dropping the future gives up: its node is removed.
    pub async fn acquire(&self) -> Result<LockGuard<C>, LockError> {
        self.0.acquire().await
    }

    /// Waits at most `wait` for the lock: `Ok(None)` when it did not come in time (the
    /// contender's node is removed).
    pub async fn try_acquire(&self, wait: Duration) -> Result<Option<LockGuard<C>>, LockError> {
        self.0.try_acquire(wait).await
    }
}

/// A distributed read-write lock at a path: readers share it while no writer is queued before
/// them; a writer holds it alone (Curator's `InterProcessReadWriteLock`, kazoo's
/// `ReadLock`/`WriteLock`). Fair: a writer waits only for those queued before it, and readers
/// queued after a waiting writer wait for it. Each waiter watches one node: a writer the node
/// just before it, a reader the last writer before it.
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use std::time::Duration;
/// use zk_recipes::RwLock;
///
/// let lock = RwLock::new(client.clone(), "/locks/catalog");
/// let reading = lock.read().await?;
/// let also_reading = lock.read().await?;
/// assert!(lock.try_write(Duration::from_millis(100)).await?.is_none(), "readers hold it");
/// reading.release().await?;
/// also_reading.release().await?;
/// lock.write().await?.release().await?;
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct RwLock<C> {
    read: Queue<C>,
    write: Queue<C>,
}

impl<C: Zk> RwLock<C> {
    /// The read-write lock at `path`.
    pub fn new(zk: C, path: impl Into<String>) -> RwLock<C> {
        let path = path.into();
        let queue = |kind, prefix| Queue {
            zk: zk.clone(),
            path: path.clone(),
            policy: LossPolicy::default(),
            kind,
            prefix,
        };
        RwLock {
            read: queue(Kind::Shared, READER),
            write: queue(Kind::Exclusive, WRITER),
        }
    }

    /// When a held lock counts as possibly lost (default: when the session ends).
    pub fn loss_policy(mut self, policy: LossPolicy) -> RwLock<C> {
        self.read.policy = policy;
        self.write.policy = policy;
        self
    }

    /// Waits until the lock is held for reading.
    pub async fn read(&self) -> Result<LockGuard<C>, LockError> {
        self.read.acquire().await
    }

    /// Waits at most `wait` to hold the lock for reading.
    pub async fn try_read(&self, wait: Duration) -> Result<Option<LockGuard<C>>, LockError> {
        self.read.try_acquire(wait).await
    }

    /// Waits until the lock is held for writing.
    pub async fn write(&self) -> Result<LockGuard<C>, LockError> {
        self.write.acquire().await
    }

    /// Waits at most `wait` to hold the lock for writing.
    pub async fn try_write(&self, wait: Duration) -> Result<Option<LockGuard<C>>, LockError> {
        self.write.try_acquire(wait).await
    }
}

/// A distributed counting semaphore at a path: at most `leases` holders at a time (Curator's
/// `InterProcessSemaphoreV2`, kazoo's `Semaphore`), granted in the order they were asked for.
/// Waiters re-list the queue whenever it changes (a release wakes every waiter, as in Curator),
/// so that a lease freed anywhere before them is seen. All users must agree on `leases`.
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use std::time::Duration;
/// use zk_recipes::Semaphore;
///
/// let connections = Semaphore::new(client.clone(), "/limits/db", 2);
/// let one = connections.acquire().await?;
/// let two = connections.acquire().await?;
/// assert!(connections.try_acquire(Duration::from_millis(100)).await?.is_none());
/// one.release().await?;
/// two.release().await?;
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct Semaphore<C>(Queue<C>);

impl<C: Zk> Semaphore<C> {
    /// The semaphore at `path` with `leases` leases (at least one).
    pub fn new(zk: C, path: impl Into<String>, leases: usize) -> Semaphore<C> {
        Semaphore(Queue {
            zk,
            path: path.into(),
            policy: LossPolicy::default(),
            kind: Kind::Leases(leases.max(1)),
            prefix: LEASE,
        })
    }

    /// When a held lease counts as possibly lost (default: when the session ends).
    pub fn loss_policy(mut self, policy: LossPolicy) -> Semaphore<C> {
        self.0.policy = policy;
        self
    }

    /// Waits until a lease is held.
    pub async fn acquire(&self) -> Result<LockGuard<C>, LockError> {
        self.0.acquire().await
    }

    /// Waits at most `wait` for a lease.
    pub async fn try_acquire(&self, wait: Duration) -> Result<Option<LockGuard<C>>, LockError> {
        self.0.try_acquire(wait).await
    }
}

/// Removes an acquire's node when the acquire is given up (timed out, dropped, failed).
struct Contender<C: Zk> {
    zk: C,
    state: ContenderState,
}

enum ContenderState {
    /// Nothing created, or the node handed over to a guard.
    Idle,
    /// The create, protected by this marker, may be in flight under this parent.
    Creating { parent: String, marker: String },
    /// The node exists.
    Created(String),
}

impl<C: Zk> Contender<C> {
    fn new(zk: C) -> Contender<C> {
        Contender {
            zk,
            state: ContenderState::Idle,
        }
    }

    fn creating(&mut self, parent: &str, marker: &str) {
        self.state = ContenderState::Creating {
            parent: parent.to_owned(),
            marker: marker.to_owned(),
        };
    }

    fn created(&mut self, node: &str) {
        self.state = ContenderState::Created(node.to_owned());
    }

    fn disarm(&mut self) {
        self.state = ContenderState::Idle;
    }
}

impl<C: Zk> Drop for Contender<C> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, ContenderState::Idle) {
            ContenderState::Idle => {}
            ContenderState::Created(node) => remove_in_background(&self.zk, node),
            ContenderState::Creating { parent, marker } => {
                // The create may still be applied after this: find its node by its marker
                // and remove it, in a task of its own (two dependent round trips).
                let zk = self.zk.clone();
                let task = Box::pin(remove_marked(zk, parent.clone(), marker));
                if let Err(e) = self.zk.spawn(task) {
                    tracing::warn!(
                        parent,
                        error = %e,
                        "no task to remove an abandoned contender's node: it stays until the \
                         session ends"
                    );
                }
            }
        }
    }
}

/// A held lock (a mutex, a read or write lock, a semaphore's lease). Release it with
/// [`LockGuard::release`]; dropping it releases it too, without waiting for the server.
#[derive(Debug)]
pub struct LockGuard<C: Zk> {
    _own_watch: OwnWatch,
    zk: C,
    states: States,
    policy: LossPolicy,
    node: String,
    token: FencingToken,
    released: bool,
}

impl<C: Zk> LockGuard<C> {
    /// The holder's fencing token: greater than every earlier holder's.
    pub fn fencing_token(&self) -> FencingToken {
        self.token
    }

    /// The holder's node.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether the lock is held as far as the client knows now, under the lock's
    /// [`LossPolicy`]: false while the session's state counts as a loss (while disconnected,
    /// under `OnDisconnect`) or while no server has confirmed the session for as long as the
    /// servers may wait before expiring it (after a pause of the process, before its timers
    /// have run: check before acting); true again once the session is confirmed again (its
    /// node, and so the lock, survived); false for good once the session has ended.
    pub fn is_held(&self) -> bool {
        let (unconfirmed, timeout) = self.zk.confirmation();
        !self
            .policy
            .lost(self.states.current(), unconfirmed, timeout)
    }

    /// Resolves at the first state change that counts as a loss under the lock's
    /// [`LossPolicy`] (at once if the state counts as one now).
    pub async fn lost(&mut self) {
        let policy = self.policy;
        self.states.wait_for(|state| policy.lost_in(state)).await;
    }

    /// Releases the lock and waits until the server has removed the node. A node already
    /// gone (the session expired) is no error.
    pub async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        loop {
            match self.zk.call(Delete::new(self.node.clone())).await {
                Ok(()) => return Ok(()),
                Err(e) if *e.kind() == DeleteError::NoNode => return Ok(()),
                // The delete may have been applied: sending it again is safe (NoNode then).
                Err(e) if outcome_unknown(e.common()) => {
                    reconnected(&self.zk).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl<C: Zk> Drop for LockGuard<C> {
    fn drop(&mut self) {
        if !self.released {
            remove_in_background(&self.zk, self.node.clone());
        }
    }
}
