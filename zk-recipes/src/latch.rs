//! Leader election: a [`LeaderLatch`] per participant, each an ephemeral-sequential node under
//! the election's path; the lowest sequence number leads, and each participant watches only
//! the one before it (Curator's `LeaderLatch`, kazoo's `Election`). A background task follows
//! the queue and reports leadership gained and lost: lost when the leader's session ends (and,
//! under [`LossPolicy::OnDisconnect`], as soon as its connection is lost, gained again once the
//! session is back if its node is still first). [`Election::participants`] lists who takes
//! part.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use zk_client::ops::{Delete, Error, GetData, GetDataError, Operation};

use crate::cell::{Cell, EventLog};
use crate::client::{outcome_unknown, reconnected, remove, BoxFuture, Fire, Fired, States, Zk};
use crate::mutex::{FencingToken, LossPolicy};
use crate::protected::new_marker;
use crate::queue::{self, first_fired, Member, Woke};

/// The name of participants' nodes, after the protection marker and before the sequence
/// number.
const PARTICIPANT: &str = "latch-";

/// A change of leadership, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadershipEvent {
    /// This participant leads now; act with this fencing token.
    Gained(FencingToken),
    /// This participant may not lead any more: stop acting as the leader.
    Lost,
}

/// Why a latch stopped taking part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LatchEnded {
    /// [`LeaderLatch::close`] (or dropping the latch).
    #[error("the latch was closed")]
    Closed,
    /// A call failed (the session expired, a missing ACL, ...).
    #[error("leader latch: {0}")]
    Zk(#[from] Error),
    /// The participant's node was deleted by someone else.
    #[error("election {election}: the participant's node {node} was deleted by someone else")]
    NodeDeleted {
        /// The election's path.
        election: String,
        /// The participant's node.
        node: String,
    },
    /// The latch's task could not start (no runtime to spawn it on, no thread).
    #[error("leader latch: its task could not start: {0}")]
    NoTask(String),
}

/// One participant of an election ([`Election::join`]; see the module docs). Leadership is
/// given up with [`LeaderLatch::close`], or by dropping the latch.
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::{Election, LeadershipEvent, LossPolicy};
///
/// let election = Election::new(client.clone(), "/election").loss_policy(LossPolicy::OnDisconnect);
/// let latch = election.join(&b"host-a"[..]);
/// let token = latch.wait_leader().await?;
/// assert_eq!(latch.next_event().await, Some(LeadershipEvent::Gained(token)));
/// let everyone = election.participants().await?;
/// assert_eq!((&everyone[0].id[..], everyone[0].leader), (&b"host-a"[..], true));
/// // Act as the leader with `token`, until `next_event` says Lost; then step down:
/// latch.close().await;
/// assert_eq!(latch.next_event().await, Some(LeadershipEvent::Lost));
/// # Ok(()) });
/// ```
pub struct LeaderLatch {
    shared: Arc<Shared>,
    /// The session's state, checked on every question: the latch's task may not have seen a
    /// change yet.
    states: States,
    policy: LossPolicy,
    /// How long ago a server confirmed the session, and the negotiated timeout.
    confirmation: Arc<Confirmation>,
}

/// How long ago a server confirmed the session, and the negotiated timeout.
type Confirmation = dyn Fn() -> (Duration, Option<Duration>) + Send + Sync;

impl std::fmt::Debug for LeaderLatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderLatch")
            .field("leading", &self.fencing_token())
            .field("node", &self.node())
            .finish_non_exhaustive()
    }
}

/// The latch's state, shared by its handle and its task.
type Shared = Cell<LatchState>;

#[derive(Debug, Default)]
struct LatchState {
    leading: Option<FencingToken>,
    /// The participant's node, once created.
    node: Option<String>,
    events: VecDeque<LeadershipEvent>,
    ended: Option<LatchEnded>,
    close_requested: bool,
}

/// How many unread events a latch keeps: past it, the oldest two go (a gain and a loss, or a
/// loss and a gain: what is read still alternates, gained then lost).
const EVENTS_KEPT: usize = 1024;

impl EventLog for LatchState {
    type Event = LeadershipEvent;

    fn pop_event(&mut self) -> Option<LeadershipEvent> {
        self.events.pop_front()
    }

    fn has_ended(&self) -> bool {
        self.ended.is_some()
    }
}

impl LatchState {
    fn push(&mut self, event: LeadershipEvent) {
        if self.events.len() >= EVENTS_KEPT {
            self.events.drain(..2);
        }
        self.events.push_back(event);
    }
}

impl Shared {
    fn gain(&self, token: FencingToken) {
        tracing::info!(?token, "leadership gained");
        self.update(|s| {
            s.leading = Some(token);
            s.push(LeadershipEvent::Gained(token));
        });
    }

    fn lose(&self) {
        self.update(|s| {
            if s.leading.take().is_some() {
                tracing::warn!("leadership lost");
                s.push(LeadershipEvent::Lost);
            }
        });
    }

    fn end(&self, why: LatchEnded) {
        self.lose();
        self.update(|s| {
            s.ended.get_or_insert(why);
        });
    }
}

/// An election at a path: join it as a participant ([`Election::join`]), or list who takes
/// part ([`Election::participants`]).
#[derive(Debug, Clone)]
pub struct Election<C> {
    zk: C,
    path: String,
    policy: LossPolicy,
}

impl<C: Zk> Election<C> {
    /// The election at `path` (created, with its parents, as container nodes when missing).
    pub fn new(zk: C, path: impl Into<String>) -> Election<C> {
        Election {
            zk,
            path: path.into(),
            policy: LossPolicy::default(),
        }
    }

    /// When leadership counts as lost (default: when the session ends).
    pub fn loss_policy(mut self, policy: LossPolicy) -> Election<C> {
        self.policy = policy;
        self
    }

    /// The election's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Joins the election as participant `id` (stored in its node, listed by
    /// [`Election::participants`]): a task of its own follows the queue from now on.
    pub fn join(&self, id: impl Into<Bytes>) -> LeaderLatch {
        LeaderLatch::start(self.zk.clone(), self.path.clone(), id.into(), self.policy)
    }

    /// The participants, the leader first.
    pub async fn participants(&self) -> Result<Vec<Participant>, Error> {
        participants(&self.zk, &self.path).await
    }
}

impl LeaderLatch {
    /// Joins the election at `path` as participant `id`, losing leadership as `policy` says.
    fn start<C: Zk>(zk: C, path: String, id: Bytes, policy: LossPolicy) -> LeaderLatch {
        let shared = Arc::new(Shared::default());
        let states = zk.states();
        let task = run(zk.clone(), shared.clone(), path, id, policy);
        if let Err(e) = zk.spawn(Box::pin(task)) {
            shared.end(LatchEnded::NoTask(e.to_string()));
        }
        let probe = zk.clone();
        LeaderLatch {
            shared,
            states,
            policy,
            confirmation: Arc::new(move || probe.confirmation()),
        }
    }

    /// Whether this participant leads now: its node is first, the session's state does not
    /// count as a loss under the latch's [`LossPolicy`], and a server confirmed the session
    /// recently enough that it cannot have expired (checked at the call, before the latch's
    /// task has seen any change: a leader whose process was paused past its session timeout
    /// learns here that it may not act).
    pub fn is_leader(&self) -> bool {
        self.fencing_token().is_some()
    }

    /// The leader's fencing token while this participant leads (see [`LeaderLatch::is_leader`]).
    pub fn fencing_token(&self) -> Option<FencingToken> {
        let leading = self.shared.lock().leading;
        let (unconfirmed, timeout) = (self.confirmation)();
        leading.filter(|_| {
            !self
                .policy
                .lost(self.states.current(), unconfirmed, timeout)
        })
    }

    /// The participant's node, once created.
    pub fn node(&self) -> Option<String> {
        self.shared.lock().node.clone()
    }

    /// Waits until this participant leads (at once if it does); fails once the latch ended.
    ///
    /// Leadership may be lost again at any time after this returns: check
    /// [`LeaderLatch::is_leader`] (or [`LeaderLatch::fencing_token`]) right before each act,
    /// and hand the token to what the act touches.
    pub async fn wait_leader(&self) -> Result<FencingToken, LatchEnded> {
        poll_fn(|cx| {
            self.shared
                .poll_state(cx, |s| match (&s.leading, &s.ended) {
                    (Some(token), _) => Some(Ok(*token)),
                    (None, Some(ended)) => Some(Err(ended.clone())),
                    (None, None) => None,
                })
        })
        .await
    }

    /// The next change of leadership; `None` once the latch ended and every change was taken.
    /// A latch whose events are never read keeps the latest 1024.
    pub async fn next_event(&self) -> Option<LeadershipEvent> {
        self.shared.next_event().await
    }

    /// Why the latch ended, once it has.
    pub fn ended(&self) -> Option<LatchEnded> {
        self.shared.lock().ended.clone()
    }

    /// Steps down: leaves the election (its node is deleted) and waits until it has. The
    /// events until then can still be read.
    pub async fn close(&self) {
        self.shared.update(|s| s.close_requested = true);
        poll_fn(|cx| self.shared.poll_state(cx, |s| s.ended.as_ref().map(|_| ()))).await;
    }
}

impl Drop for LeaderLatch {
    /// Leaves the election in the background.
    fn drop(&mut self) {
        self.shared.update(|s| s.close_requested = true);
    }
}

/// One participant of an election, as [`Election::participants`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The participant's id.
    pub id: Bytes,
    /// Its node.
    pub node: String,
    /// Whether it leads (the first in the queue).
    pub leader: bool,
}

/// The participants of the election at `path`, the leader first.
async fn participants<C: Zk>(zk: &C, path: &str) -> Result<Vec<Participant>, Error> {
    let mut out = Vec::new();
    for name in queue::members(zk, path).await? {
        let node = queue::child(path, &name);
        let id = loop {
            match zk.call(GetData::new(node.clone())).await {
                Ok((id, _)) => break Some(id),
                // Left meanwhile.
                Err(e) if *e.kind() == GetDataError::NoNode => break None,
                Err(e) if outcome_unknown(e.common()) => {
                    reconnected(zk).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(id) = id {
            out.push(Participant {
                id,
                leader: out.is_empty(),
                node,
            });
        }
    }
    Ok(out)
}

/// What a participant waits for.
enum Woken {
    /// A watch fired (or the session ended: the next look says).
    Watch(Woke),
    /// The session's state changed to this one (`None`: the session's changes ended).
    State(Option<zk_client::SessionState>),
    /// The latch was closed.
    Close,
}

/// Waits for `watch` (when given), a state change or a close request, whichever comes first.
async fn woken(shared: &Shared, states: &mut States, watch: Option<BoxFuture<Woke>>) -> Woken {
    let mut watch = watch;
    let mut changed = pin!(states.changed());
    poll_fn(|cx| {
        if let Poll::Ready(()) = shared.poll_state(cx, |s| s.close_requested.then_some(())) {
            return Poll::Ready(Woken::Close);
        }
        if let Some(watch) = watch.as_mut() {
            if let Poll::Ready(woke) = watch.as_mut().poll(cx) {
                return Poll::Ready(Woken::Watch(woke));
            }
        }
        if let Poll::Ready(state) = changed.as_mut().poll(cx) {
            return Poll::Ready(Woken::State(state));
        }
        Poll::Pending
    })
    .await
}

/// The participant's task: joins, follows its place in the queue, reports leadership, and
/// leaves when closed.
async fn run<C: Zk>(zk: C, shared: Arc<Shared>, path: String, id: Bytes, policy: LossPolicy) {
    let marker = new_marker();
    let member = match queue::join(&zk, &path, PARTICIPANT, &marker, id).await {
        Ok(member) => member,
        Err(e) => return shared.end(e.into()),
    };
    shared.update(|s| s.node = Some(member.path.clone()));
    let ended = follow(&zk, &shared, &path, &member, policy).await;
    shared.lose();
    if !zk.state().is_terminal() {
        // Leave the election: the next participant's watch fires.
        remove(&zk, &member.path).await;
    }
    shared.end(ended);
}

/// Follows `member`'s place in the queue until the latch ends; returns why.
async fn follow<C: Zk>(
    zk: &C,
    shared: &Shared,
    path: &str,
    member: &Member,
    policy: LossPolicy,
) -> LatchEnded {
    let mut states = zk.states();
    let mut known: Option<Vec<String>> = None;
    // The own node's watch, still armed, when the predecessor's fired.
    let mut own_watch: Option<Fired> = None;
    loop {
        if shared.lock().close_requested {
            return LatchEnded::Closed;
        }
        let state = zk.state();
        if state.is_terminal() {
            let failed = Delete::new(member.path.clone()).fail(state.terminal_error());
            return LatchEnded::Zk(failed.into());
        }
        if policy.lost_in(state) {
            // Wait for the session to come back before looking again.
            shared.lose();
            match woken(shared, &mut states, None).await {
                Woken::Close => return LatchEnded::Closed,
                Woken::State(Some(state)) if policy.lost_in(state) => shared.lose(),
                _ => {}
            }
            continue;
        }
        // The queue as listed, or known to lead (see below).
        let mut members = match known.take() {
            Some(members) => members,
            None => match queue::members(zk, path).await {
                Ok(members) => members,
                Err(e) => return e.into(),
            },
        };
        let Some(mine) = members.iter().position(|m| *m == member.name) else {
            if zk.state().is_terminal() {
                continue;
            }
            return LatchEnded::NodeDeleted {
                election: path.to_owned(),
                node: member.path.clone(),
            };
        };
        // Our own node's watch fires when someone deletes it or the session ends; a
        // follower watches its predecessor too (both set in one round trip).
        let predecessor = mine.checked_sub(1);
        let watched = match (predecessor, own_watch.take()) {
            (None, armed) => {
                if shared.lock().leading.is_none() {
                    shared.gain(FencingToken(member.czxid));
                }
                let own = match armed {
                    Some(own) => own,
                    None => match zk.exists_and_watch(&member.path).await {
                        Ok((None, _)) => continue,
                        Ok((Some(_), own)) => own,
                        Err(e) if outcome_unknown(e.common()) => {
                            reconnected(zk).await;
                            continue;
                        }
                        Err(e) => return LatchEnded::Zk(e.into()),
                    },
                };
                Box::pin(async move {
                    own.await;
                    Woke::Own
                }) as BoxFuture<Woke>
            }
            (Some(p), _) => {
                let on_predecessor = zk.exists_and_watch(&queue::child(path, &members[p]));
                let on_self = zk.exists_and_watch(&member.path);
                match (on_predecessor.await, on_self.await) {
                    (_, Ok((None, _))) => continue,
                    // The predecessor gone between the listing and the watch: look again.
                    (Ok((None, _)), _) => continue,
                    (Ok((Some(_), before)), Ok((Some(_), own))) => {
                        shared.lose();
                        Box::pin(first_fired(own, before)) as BoxFuture<Woke>
                    }
                    (Err(e), _) | (_, Err(e)) if outcome_unknown(e.common()) => {
                        reconnected(zk).await;
                        continue;
                    }
                    (Err(e), _) | (_, Err(e)) => return LatchEnded::Zk(e.into()),
                }
            }
        };
        match woken(shared, &mut states, Some(watched)).await {
            Woken::Close => return LatchEnded::Closed,
            // The predecessor left. Members join at the end (a greater sequence number than
            // any before), so those before this one can only leave: when the predecessor was
            // the first, this participant leads now without listing again (a fail-over is the
            // notification alone). Otherwise the listing is stale: look again.
            Woken::Watch(Woke::Blocker(Fire::Deleted, own)) if predecessor == Some(0) => {
                members.remove(0);
                known = Some(members);
                own_watch = Some(own);
            }
            // Every change is seen, one at a time: a short disconnect the client has already
            // recovered from is still reported under `LossPolicy::OnDisconnect`.
            Woken::State(Some(state)) if policy.lost_in(state) => shared.lose(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_client::proto::Zxid;

    #[test]
    fn unread_events_are_bounded_and_still_alternate() {
        let mut state = LatchState::default();
        for i in 0..3001 {
            state.push(if i % 2 == 0 {
                LeadershipEvent::Gained(FencingToken(Zxid(i)))
            } else {
                LeadershipEvent::Lost
            });
        }
        assert!(state.events.len() <= EVENTS_KEPT);
        let gained: Vec<bool> = state
            .events
            .iter()
            .map(|e| matches!(e, LeadershipEvent::Gained(_)))
            .collect();
        assert!(gained.windows(2).all(|w| w[0] != w[1]), "alternating");
        assert_eq!(
            state.events.back(),
            Some(&LeadershipEvent::Gained(FencingToken(Zxid(3000))))
        );
    }
}
