//! The state every handle shares with the I/O driver: the session, the routes from request and
//! watch ids to the handles waiting on them, and the signal that wakes the driver.
//!
//! Handles and the driver each hold the lock only long enough to feed the session an input or a
//! command and to route its outputs; no user code ever runs under it.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

use zk_session::proto::Response;
use zk_session::{CommonError, Event, Operation, RequestId, Session, SessionState, WatchId};

use crate::oneshot::{self, Sender};
use crate::queue::{ByteLimit, EventQueue, SessionBytes};
use crate::reply::Reply;
use crate::runtime::InlineDriver;
use crate::watch::{WatchEvent, WatchParts};

/// Reads the clock of the runtime the client runs on.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// How many events a watch stream or state subscription buffers before it drops new ones.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// How many bytes of events (paths included) a watch stream buffers before it drops new ones.
pub const DEFAULT_STREAM_BUFFER_BYTES: usize = 1 << 20;

/// How many bytes of events all the watch streams of one session buffer together before they
/// drop new ones.
pub const DEFAULT_SESSION_BUFFER_BYTES: usize = 4 << 20;

/// Bounds on the events buffered for consumers that have not read them yet.
///
/// One event is always accepted by an empty stream while the session's streams hold nothing,
/// and the final event of a stream (its removal, or the end of the session) is never dropped,
/// so a session holds at most `session_bytes`, plus one event, plus one final event per stream,
/// of undelivered stream events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLimits {
    /// Events a watch stream or state observer buffers.
    pub capacity: usize,
    /// Bytes a watch stream buffers.
    pub stream_bytes: usize,
    /// Bytes the watch streams of the session buffer together.
    pub session_bytes: usize,
}

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            capacity: DEFAULT_EVENT_CAPACITY,
            stream_bytes: DEFAULT_STREAM_BUFFER_BYTES,
            session_bytes: DEFAULT_SESSION_BUFFER_BYTES,
        }
    }
}

/// The result of one request, before its operation types it.
pub(crate) type RawResult = Result<Response, CommonError>;

pub(crate) struct Inner {
    pub(crate) session: Session,
    replies: HashMap<RequestId, Sender<RawResult>>,
    /// Watch queues by registration, and whether each is one-shot (ends after one event).
    watches: HashMap<WatchId, (Arc<EventQueue<WatchEvent>>, bool)>,
    /// The driver is gone: nothing submitted now could ever complete.
    gone: bool,
    state_subscribers: Vec<Weak<EventQueue<SessionState>>>,
    /// Watch events dropped because their stream's buffer was full.
    watch_events_dropped: u64,
}

/// Wakes the driver when a handle gave the session work.
#[derive(Debug, Default)]
pub struct DriverSignal {
    state: Mutex<SignalState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct SignalState {
    /// Work is pending.
    pending: bool,
    /// The async driver's waker, taken by the first notification.
    waker: Option<Waker>,
    /// Threads blocked in [`DriverSignal::wait`]: the condition variable is signalled only
    /// when there is one (`notify_all` is a system call even with no waiter, and handles notify
    /// on every call).
    waiters: usize,
}

impl DriverSignal {
    fn lock(&self) -> MutexGuard<'_, SignalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks work pending and wakes the driver.
    pub fn notify(&self) {
        let (waker, waiters) = {
            let mut s = self.lock();
            s.pending = true;
            (s.waker.take(), s.waiters)
        };
        if waiters > 0 {
            self.ready.notify_all();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// For async drivers: clears the pending flag and registers the waker to call on the next
    /// notification. Returns whether work was pending.
    pub fn register(&self, waker: &Waker) -> bool {
        let mut s = self.lock();
        match &s.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => s.waker = Some(waker.clone()),
        }
        std::mem::take(&mut s.pending)
    }

    /// For blocking drivers: waits until notified or `timeout` passes; clears the flag.
    pub fn wait(&self, timeout: Duration) {
        let mut s = self.lock();
        s.waiters += 1;
        let (mut s, _) = self
            .ready
            .wait_timeout_while(s, timeout, |s| !s.pending)
            .unwrap_or_else(|e| e.into_inner());
        s.waiters -= 1;
        s.pending = false;
    }
}

/// The shared core of a client.
pub struct Shared {
    inner: Mutex<Inner>,
    clock: Clock,
    /// Wakes the driver.
    pub signal: DriverSignal,
    events: EventLimits,
    /// The bytes held by the session's watch streams.
    stream_bytes: Arc<SessionBytes>,
    /// Set when the driver is polled by the callers (see [`InlineDriver`]).
    inline: OnceLock<Arc<dyn InlineDriver>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    /// A core around `session`, reading time from `clock`.
    pub fn new(session: Session, clock: Clock, events: EventLimits) -> Arc<Shared> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                session,
                replies: HashMap::new(),
                watches: HashMap::new(),
                state_subscribers: Vec::new(),
                gone: false,
                watch_events_dropped: 0,
            }),
            clock,
            signal: DriverSignal::default(),
            stream_bytes: SessionBytes::new(events.session_bytes),
            events,
            inline: OnceLock::new(),
        })
    }

    /// Has the callers poll the driver (see [`InlineDriver`]).
    pub(crate) fn set_inline_driver(&self, inline: Arc<dyn InlineDriver>) {
        let _ = self.inline.set(inline);
    }

    /// Gets the driver going on new work: polls it here when the callers drive it, wakes it
    /// otherwise.
    fn kick(&self) {
        match self.inline.get() {
            Some(inline) => inline.kick(),
            None => self.signal.notify(),
        }
    }

    /// Gets a new request written: by the next poll of the driver when the callers drive it
    /// (so that requests submitted together share a write), by waking the driver otherwise.
    fn submitted(&self) {
        match self.inline.get() {
            Some(inline) => inline.submitted(),
            None => self.signal.notify(),
        }
    }

    fn reply(&self, rx: oneshot::Receiver<RawResult>) -> Reply {
        Reply::new(rx, self.inline_driver())
    }

    /// The driver the waiting tasks poll, when the runtime drives the session inline.
    pub(crate) fn inline_driver(&self) -> Option<Arc<dyn InlineDriver>> {
        self.inline.get().cloned()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The runtime's current time.
    pub fn now(&self) -> Instant {
        (self.clock)()
    }

    /// Runs `f` with the session, then routes whatever it produced to the waiting handles.
    /// Drivers feed every input through here.
    pub fn with_session<T>(&self, f: impl FnOnce(&mut Session) -> T) -> T {
        let mut wakers = Vec::new();
        let mut inner = self.lock();
        let out = f(&mut inner.session);
        inner.route_events(&mut wakers);
        drop(inner);
        wakers.into_iter().for_each(Waker::wake);
        out
    }

    /// Replaces the host list ([`zk_session::Session::update_hosts`]) and wakes the driver to
    /// act on it (a connection to drop, an attempt to start).
    pub(crate) fn update_hosts(
        &self,
        hosts: Vec<zk_session::HostAddr>,
    ) -> Result<bool, zk_session::ConfigError> {
        let now = self.now();
        let moved = self.with_session(|s| s.update_hosts(hosts, now))?;
        self.kick();
        Ok(moved)
    }

    /// Reads the session without changing it.
    pub fn read_session<T>(&self, f: impl FnOnce(&Session) -> T) -> T {
        f(&self.lock().session)
    }

    /// The client's counters now.
    pub fn stats(&self) -> crate::Stats {
        let inner = self.lock();
        crate::Stats {
            session: inner.session.stats(),
            watch_events_dropped: inner.watch_events_dropped,
        }
    }

    /// The session's state; `Closed` once the driver is gone, whatever the session last knew.
    pub fn state(&self) -> SessionState {
        self.lock().state()
    }

    /// Why the session ended, once it has (`Closed` once the driver is gone).
    pub fn end_reason(&self) -> Option<zk_session::SessionEnd> {
        let inner = self.lock();
        match inner.session.end_reason() {
            Some(end) => Some(end.clone()),
            None if inner.gone => Some(zk_session::SessionEnd::Closed),
            None => None,
        }
    }

    /// Submits `op`, to complete within `timeout` if one is given; its raw result arrives
    /// through the returned reply.
    pub(crate) fn submit<O: Operation>(
        &self,
        op: &O,
        timeout: Option<Duration>,
    ) -> Result<Reply, CommonError> {
        let now = self.now();
        let rx = {
            let mut inner = self.lock();
            inner.check_driver()?;
            // No route is made for a watch here: nobody would receive its events.
            let id = inner
                .session
                .submit_ignoring_watch(op, deadline(now, timeout), now)?;
            let (tx, rx) = oneshot::channel();
            inner.replies.insert(id, tx);
            rx
        };
        self.submitted();
        Ok(self.reply(rx))
    }

    /// Submits an operation that may set a watch; the watch's queue exists before the request
    /// is sent, so no event can be missed. `one_shot` queues close after their first event.
    pub(crate) fn submit_watching<O: Operation>(
        self: &Arc<Self>,
        op: &O,
        one_shot: bool,
        timeout: Option<Duration>,
    ) -> Result<(Reply, WatchParts), CommonError> {
        let now = self.now();
        let out = {
            let mut inner = self.lock();
            inner.check_driver()?;
            let id = inner
                .session
                .submit_with_deadline(op, deadline(now, timeout), now)?;
            let (tx, rx) = oneshot::channel();
            inner.replies.insert(id, tx);
            // A one-shot watch holds one event on a path its caller chose; a stream's events
            // carry any path below the watch, chosen by the server: they are bounded in bytes.
            let queue = Arc::new(if one_shot {
                EventQueue::new(1)
            } else {
                EventQueue::with_byte_limit(
                    self.events.capacity,
                    ByteLimit {
                        per_queue: self.events.stream_bytes,
                        size: WatchEvent::buffered_size,
                        session: self.stream_bytes.clone(),
                    },
                )
            });
            inner
                .watches
                .insert(id.watch_id(), (queue.clone(), one_shot));
            let parts = WatchParts::new(self.clone(), id.watch_id(), queue);
            (rx, parts)
        };
        self.submitted();
        Ok((self.reply(out.0), out.1))
    }

    /// Forgets a watch whose handle was dropped (removing the server watch when no other
    /// registration needs it).
    pub(crate) fn forget_watch(&self, watch: WatchId) {
        let now = self.now();
        let mut wakers = Vec::new();
        let removed = {
            let mut inner = self.lock();
            let removed = inner.watches.remove(&watch);
            inner.session.forget_watch(watch, now);
            inner.route_events(&mut wakers);
            removed
        };
        drop(removed);
        wakers.into_iter().for_each(Waker::wake);
        self.kick();
    }

    /// Subscribes to session-state changes.
    pub(crate) fn subscribe_state(&self) -> (SessionState, Arc<EventQueue<SessionState>>) {
        let mut inner = self.lock();
        let queue = Arc::new(EventQueue::new(self.events.capacity));
        inner.state_subscribers.retain(|w| w.strong_count() > 0);
        inner.state_subscribers.push(Arc::downgrade(&queue));
        let state = inner.state();
        if state.is_terminal() {
            queue.close();
        }
        (state, queue)
    }

    /// The driver is gone (its runtime dropped it): nothing will ever complete, so every waiting
    /// call fails with `Closed`, the state becomes `Closed`, and every watch and state stream
    /// ends with that.
    pub fn driver_gone(&self) {
        let mut wakers = Vec::new();
        let mut inner = self.lock();
        if inner.session.state().is_terminal() {
            return;
        }
        inner.gone = true;
        for (_, tx) in inner.replies.drain() {
            tx.abandon_deferred(&mut wakers);
        }
        let ended = WatchEvent::SessionEnded(SessionState::Closed);
        for (_, (queue, _)) in inner.watches.drain() {
            queue.push_last(ended.clone(), &mut wakers);
        }
        for queue in inner
            .state_subscribers
            .drain(..)
            .filter_map(|w| w.upgrade())
        {
            queue.push_last(SessionState::Closed, &mut wakers);
        }
        drop(inner);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Starts closing the session without waiting.
    pub fn close_in_background(&self) {
        let now = self.now();
        self.with_session(|s| s.close(now));
        self.kick();
    }
}

/// The deadline `timeout` after `now`; none when there is no timeout or it is too far away
/// for the clock.
fn deadline(now: Instant, timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| now.checked_add(t))
}

impl Inner {
    fn state(&self) -> SessionState {
        match self.session.state() {
            s if self.gone && !s.is_terminal() => SessionState::Closed,
            s => s,
        }
    }

    fn check_driver(&self) -> Result<(), CommonError> {
        if self.gone && !self.session.state().is_terminal() {
            return Err(CommonError::Closed);
        }
        Ok(())
    }

    /// Routes every event of the session to its handle, leaving in `wakers` the tasks to wake
    /// once the lock is released. Routing only reads the session's events: it gives the
    /// session no new work, so what the driver drained before stays all there is to send. (A
    /// watching call abandoned before its reply told the session when its handle was dropped,
    /// and the session forgets the watch as the reply sets it.)
    pub(crate) fn route_events(&mut self, wakers: &mut Vec<Waker>) {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Completed(c) => {
                    if let Some(tx) = self.replies.remove(&c.id) {
                        tx.send_deferred(c.result, wakers);
                    }
                }
                Event::Watch { watch, notice } => {
                    let Some((queue, one_shot)) = self.watches.get(&watch) else {
                        continue;
                    };
                    // Decided by the notice itself, not by the registry, which already reflects
                    // later events of the same batch.
                    let ends = *one_shot || notice.is_last();
                    let event = WatchEvent::from(notice);
                    if ends {
                        queue.push_last(event, wakers);
                        self.watches.remove(&watch);
                    } else if !queue.push(event, wakers) {
                        self.watch_events_dropped += 1;
                    }
                }
                Event::State(state) => {
                    self.state_subscribers.retain(|w| match w.upgrade() {
                        Some(q) => {
                            if state.is_terminal() {
                                q.push_last(state, wakers);
                            } else {
                                let _ = q.push(state, wakers);
                            }
                            true
                        }
                        None => false,
                    });
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use zk_session::proto::{
        self, AddWatchMode, ErrorCode, ErrorResponse, EventType, GetDataResponse, ReplyHeader,
        Response, Stat, Xid, Zxid,
    };
    use zk_session::testing::ConnectedSession;
    use zk_session::{ops, ConnectionId};

    use super::*;
    use crate::queue::Received;

    /// A core whose session is connected to an imaginary server, fed by hand.
    fn connected() -> (Arc<Shared>, ConnectionId) {
        let connected = ConnectedSession::new(0);
        let events = EventLimits {
            capacity: 16,
            ..EventLimits::default()
        };
        let shared = Shared::new(connected.session, Arc::new(Instant::now), events);
        (shared, connected.conn)
    }

    fn reply_bytes(xid: i32, response: &Response) -> Vec<u8> {
        let mut out = Vec::new();
        let header = ReplyHeader {
            xid: Xid(xid),
            zxid: Zxid(10),
            err: ErrorCode::Ok,
        };
        proto::write_reply(&mut out, &header, response);
        out
    }

    use zk_session::testing::notification_frame as notification;

    #[test]
    fn a_watch_fired_in_the_same_read_as_the_reply_that_set_it_still_delivers_its_event() {
        let (shared, conn) = connected();
        let (_reply, parts) = shared
            .submit_watching(&ops::GetData::new("/a").watch(), true, None)
            .unwrap();
        let mut bytes = reply_bytes(
            1,
            &Response::GetData(GetDataResponse {
                data: Some(Bytes::new()),
                stat: Stat::default(),
            }),
        );
        bytes.extend(notification(EventType::NodeDataChanged, "/a"));
        let now = Instant::now();
        shared.with_session(|s| {
            s.poll_transmit(now, &mut Vec::new());
            s.handle_data(conn, &bytes, now);
        });
        assert_eq!(
            parts.queue().try_recv(),
            Some(Received::Item(WatchEvent::Node {
                event_type: EventType::NodeDataChanged,
                path: "/a".into(),
            }))
        );
    }

    #[test]
    fn a_watch_flag_on_a_plain_call_leaves_no_registration_behind() {
        let (shared, conn) = connected();
        let _reply = shared
            .submit(&ops::AddWatch::new("/p", AddWatchMode::Persistent), None)
            .unwrap();
        let added = reply_bytes(1, &Response::AddWatch(ErrorResponse { err: ErrorCode::Ok }));
        let now = Instant::now();
        shared.with_session(|s| {
            s.poll_transmit(now, &mut Vec::new());
            s.handle_data(conn, &added, now);
        });
        // Nobody holds its events: the session keeps nothing to re-register on reconnects.
        assert_eq!(shared.read_session(|s| s.watch_count()), 0);
        assert!(
            shared.read_session(|s| s.has_transmit()),
            "the removal is to be sent"
        );
    }

    #[test]
    fn a_waker_that_calls_into_the_client_when_woken_does_not_deadlock() {
        struct Reentrant(Arc<Shared>, std::sync::mpsc::Sender<SessionState>);
        impl std::task::Wake for Reentrant {
            fn wake(self: Arc<Self>) {
                // Some executors poll right here; this needs the lock of the session.
                let _ = self.1.send(self.0.state());
            }
        }
        let (shared, conn) = connected();
        let mut reply = shared.submit(&ops::GetData::new("/a"), None).unwrap();
        let (woke, woken) = std::sync::mpsc::channel();
        let waker = Waker::from(Arc::new(Reentrant(shared.clone(), woke)));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(std::future::Future::poll(std::pin::Pin::new(&mut reply), &mut cx).is_pending());

        let bytes = reply_bytes(
            1,
            &Response::GetData(GetDataResponse {
                data: Some(Bytes::new()),
                stat: Stat::default(),
            }),
        );
        let feeder = shared.clone();
        std::thread::spawn(move || {
            let now = Instant::now();
            feeder.with_session(|s| {
                s.poll_transmit(now, &mut Vec::new());
                s.handle_data(conn, &bytes, now);
            });
        });
        assert_eq!(
            woken.recv_timeout(Duration::from_secs(10)),
            Ok(SessionState::Connected),
            "the waker ran under the session's lock"
        );
    }

    #[test]
    fn when_the_driver_is_gone_the_state_is_closed_and_every_stream_ends_with_it() {
        let (shared, _conn) = connected();
        let (state, states) = shared.subscribe_state();
        assert_eq!(state, SessionState::Connected);
        let (reply, watch) = shared
            .submit_watching(
                &ops::AddWatch::new("/p", AddWatchMode::Persistent),
                false,
                None,
            )
            .unwrap();

        shared.driver_gone();
        assert_eq!(shared.state(), SessionState::Closed);
        assert_eq!(
            states.try_recv(),
            Some(Received::Item(SessionState::Closed))
        );
        assert_eq!(states.try_recv(), Some(Received::Closed));
        assert_eq!(
            watch.queue().try_recv(),
            Some(Received::Item(WatchEvent::SessionEnded(
                SessionState::Closed
            )))
        );
        assert_eq!(watch.queue().try_recv(), Some(Received::Closed));
        assert!(reply.is_ready(), "the call fails at once");
        // A later observer starts closed.
        let (state, later) = shared.subscribe_state();
        assert_eq!(state, SessionState::Closed);
        assert_eq!(later.try_recv(), Some(Received::Closed));
    }

    #[test]
    fn a_persistent_stream_keeps_the_events_that_arrive_with_its_removal() {
        let (shared, conn) = connected();
        let (_reply, parts) = shared
            .submit_watching(
                &ops::AddWatch::new("/p", AddWatchMode::Persistent),
                false,
                None,
            )
            .unwrap();
        let now = Instant::now();
        let added = reply_bytes(1, &Response::AddWatch(ErrorResponse { err: ErrorCode::Ok }));
        shared.with_session(|s| {
            s.poll_transmit(now, &mut Vec::new());
            s.handle_data(conn, &added, now);
        });
        let _removal = shared
            .submit(
                &ops::RemoveWatches::new("/p", proto::WatcherType::Any),
                None,
            )
            .unwrap();
        let mut bytes = notification(EventType::NodeDataChanged, "/p");
        bytes.extend(notification(EventType::NodeDeleted, "/p"));
        bytes.extend(reply_bytes(2, &Response::Empty));
        shared.with_session(|s| {
            s.poll_transmit(now, &mut Vec::new());
            s.handle_data(conn, &bytes, now);
        });
        let mut seen = Vec::new();
        while let Some(Received::Item(WatchEvent::Node { event_type, .. })) =
            parts.queue().try_recv()
        {
            seen.push(event_type);
        }
        assert_eq!(
            seen,
            [
                EventType::NodeDataChanged,
                EventType::NodeDeleted,
                EventType::PersistentWatchRemoved
            ]
        );
    }
}
