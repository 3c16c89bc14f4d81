//! Drives the session on the threads that wait for it: this adapter's [`InlineDriver`].
//!
//! On async-io (async-std, smol) a driver running on a thread of its own costs a futex wake-up,
//! and often an eventfd write, every time a reply batch goes to a waiting task and every time a
//! task hands the driver new requests: that doubled the client's CPU per request. So the driver
//! is not a task:
//!
//! * a task awaiting a reply or a watch event that has not arrived polls the driver itself, on
//!   its own thread, and becomes the *leader*;
//! * the driver registers one waker with every source it waits on (socket, timers, signal):
//!   the router, which wakes the leader when there is one and the background thread otherwise;
//! * a submitted request is written by the next poll of the driver: the one made by a task
//!   about to sleep on a reply, by a dropped call, by a blocking wait (`Pending::wait`), or by
//!   the background thread. Requests made one after another (each reply answered with a new
//!   request, a `join!` of calls) thus share one write, as they do with a driver task.
//!
//! Everything the hand-over knows is one [`State`] behind one mutex, held only to read and
//! change it, never while the driver is polled or a waker runs. A thread polls the driver after
//! taking it out of the state, so two threads never poll it at once; a wake-up while it is out
//! sets `notified`, and the poller polls again, so a wake-up is never lost between two pollers.
//! A leader resigns when its reply arrives or its call is dropped. Two things could wait for a
//! poll that never comes: a wake-up routed to a leader that keeps its call but stops polling it
//! (a `select!` that took another branch), and a request whose caller awaits something else
//! first. So while there is a leader or a request to write, the background thread looks every
//! [`WATCHDOG`], and takes over what has waited since its previous look with no poll begun (a
//! request made and not awaited goes out within two looks); after [`IDLE`] with no poll and
//! nothing waiting it stops looking until there is work again. A task awaiting a watch event
//! ([`InlineDriver::wait_for_event`]) may wait long, so its leading starts no looks: the
//! wake-ups routed to it do, and after [`EVENT_IDLE`] with no poll and nothing waiting the
//! looks stop while it keeps leading. (With looks kept up for [`IDLE`] after each event, a
//! watch fired every 20 ms cost its task 430 µs of CPU per event under smol, most of it the
//! looks; demoting the event's leader after a short quiet spell instead sent every event of
//! a burst after a pause through the background thread again.) The looks do not back off while
//! work is active: on a virtual machine whose idle CPUs halt (the `haltpoll` cpuidle driver),
//! a CPU woken less often sleeps deeper between calls, and the client was charged more for
//! each wake-up than the looks cost (with looks backing off to 32 ms, 25.1 µs of CPU per call
//! made one at a time instead of 21.6 µs, pinned, smol, medians of 5 alternated runs).
//!
//! The hand-over's interleavings are model-checked (with `shuttle`) by this module's tests; the
//! timing (the watchdog) is tested through the client against a real server
//! (`tests/tests/async_io_driving.rs`).

use std::task::{Context, Wake, Waker};
use std::time::Duration;

use zk_client::adapter::{BoxFuture, InlineDriver};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use sync::{park, park_timeout, Mutex, MutexGuard, Thread};

/// The synchronisation primitives: std's, or shuttle's in this module's model-checking tests.
mod sync {
    #[cfg(test)]
    pub(super) use shuttle::{
        sync::{Mutex, MutexGuard},
        thread::{current, park, park_timeout, Thread},
    };
    #[cfg(not(test))]
    pub(super) use std::{
        sync::{Mutex, MutexGuard},
        thread::{current, park, park_timeout, Thread},
    };

    /// Starts the background thread.
    #[cfg(not(test))]
    pub(super) fn spawn_background(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("zk-session".into())
            .spawn(f)
            .map(drop)
    }

    /// Starts the background thread (shuttle's threads have no names).
    #[cfg(test)]
    pub(super) fn spawn_background(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        shuttle::thread::spawn(f);
        Ok(())
    }
}

/// How often the background thread looks, while it watches, that someone polls the driver.
const WATCHDOG: Duration = Duration::from_millis(2);
/// How long with no poll and nothing waiting before the background thread stops watching.
const IDLE: Duration = Duration::from_millis(100);
/// The same while the leader waits for a watch event: events may be rare, and a task awaiting
/// one is polled again as soon as it comes.
const EVENT_IDLE: Duration = Duration::from_millis(4);
/// Polls of the driver one caller makes before leaving further work to the background thread.
const MAX_ROUNDS: usize = 8;

/// Everything the hand-over knows, behind [`Assist`]'s one lock.
struct State {
    /// The driver, while nobody polls it. A thread takes it out to poll it; `None` also once the
    /// session is over.
    driver: Option<BoxFuture<()>>,
    /// A thread has the driver out and polls it.
    polling: bool,
    /// The driver returned `Ready` or panicked: the session is over.
    finished: bool,
    /// The driver has work (a source woke it, a request was submitted) since its last poll
    /// began.
    notified: bool,
    /// The task that wake-ups go to, with its token.
    leader: Option<(u64, Waker)>,
    /// The leader, or the last one while there is none, waits for a watch event
    /// ([`InlineDriver::wait_for_event`]).
    event_leader: bool,
    /// A wake-up went to a leader and no poll has begun since.
    routed: bool,
    /// A request was submitted and no poll has begun since.
    unwritten: bool,
    /// Polls begun so far: the watchdog compares it between two looks.
    polls: u64,
    /// The background thread looks (see the module docs).
    watching: bool,
    /// The background thread has work of its own: a wake-up that found no leader, work a caller
    /// left after [`MAX_ROUNDS`], or the end of the session.
    background_due: bool,
    /// The background thread, once it runs.
    background: Option<Thread>,
}

impl State {
    /// A wake-up or a request waits for a poll.
    fn waiting(&self) -> bool {
        self.routed || self.unwritten
    }
}

/// What the background thread saw at its previous look.
#[derive(Clone, Copy)]
struct Look {
    polls: u64,
    waiting: bool,
    /// How long there has been no poll and nothing waiting.
    quiet: Duration,
}

/// A driver shared by the threads that wait for it, with a background thread as a fallback.
pub(crate) struct Assist {
    state: Mutex<State>,
    /// The last token handed out (not part of the hand-over: no lock needed).
    tokens: AtomicU64,
    /// The waker the driver registers everywhere.
    router: Waker,
}

/// Ends the session if polling the driver panics: the driver (taken out to be polled) is
/// dropped by the unwinding, which fails every call with `Closed`; this marks the session over
/// so that nobody waits for a poll again.
struct Unwinding<'a>(&'a Assist);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.polling = false;
        st.finished = true;
        Assist::wake_background(st);
    }
}

/// The driver's waker: [`Assist::route`].
struct Router(Weak<Assist>);

impl Wake for Router {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(assist) = self.0.upgrade() {
            assist.route();
        }
    }
}

impl Assist {
    /// Takes over `driver` and starts the background thread, which polls it first.
    pub(crate) fn start(driver: BoxFuture<()>) -> std::io::Result<Arc<Assist>> {
        Assist::start_on(driver, sync::spawn_background)
    }

    /// Takes over `driver` and runs the background thread with `spawn`.
    fn start_on(
        driver: BoxFuture<()>,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> std::io::Result<()>,
    ) -> std::io::Result<Arc<Assist>> {
        let assist = Arc::new_cyclic(|weak: &Weak<Assist>| Assist {
            state: Mutex::new(State {
                driver: Some(driver),
                polling: false,
                finished: false,
                notified: true,
                leader: None,
                event_leader: false,
                routed: false,
                unwritten: false,
                polls: 0,
                watching: false,
                background_due: true,
                background: None,
            }),
            router: Waker::from(Arc::new(Router(weak.clone()))),
            tokens: AtomicU64::new(0),
        });
        let background = assist.clone();
        spawn(Box::new(move || background.run_background()))?;
        Ok(assist)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Polls the driver while it has work, unless another thread polls it (that one then polls
    /// again), or the session is over. Takes the lock held by the caller.
    fn drive<'a>(&'a self, mut st: MutexGuard<'a, State>) {
        let mut rounds = 0;
        loop {
            if st.polling || st.finished || !st.notified {
                return;
            }
            let Some(mut driver) = st.driver.take() else {
                return;
            };
            st.polling = true;
            st.notified = false;
            st.routed = false;
            st.unwritten = false;
            st.polls += 1;
            drop(st);
            let unwinding = Unwinding(self);
            let ready = driver
                .as_mut()
                .poll(&mut Context::from_waker(&self.router))
                .is_ready();
            std::mem::forget(unwinding);
            rounds += 1;
            st = self.lock();
            st.polling = false;
            if ready {
                st.finished = true;
                Assist::wake_background(st);
                // Dropped with no lock held: dropping the driver completes every call.
                drop(driver);
                return;
            }
            st.driver = Some(driver);
            if st.notified && rounds >= MAX_ROUNDS {
                // Plenty of work: the background thread goes on with it.
                Assist::wake_background(st);
                return;
            }
        }
    }

    /// A source woke the driver: polls again if a thread polls it, else wakes the leader, or the
    /// background thread when there is none.
    fn route(&self) {
        let mut st = self.lock();
        st.notified = true;
        if st.polling || st.finished {
            return;
        }
        match st.leader.take() {
            Some((_, leader)) => {
                st.routed = true;
                let watcher = if st.event_leader {
                    Assist::watch(&mut st)
                } else {
                    None
                };
                drop(st);
                leader.wake();
                if let Some(thread) = watcher {
                    thread.unpark();
                }
            }
            // The leader woken for an earlier wake-up has not polled yet: its poll serves this
            // one too (and the watchdog, watching since it led, takes over if it never polls).
            None if st.routed => {}
            None => Assist::wake_background(st),
        }
    }

    /// Gives the background thread work of its own, and wakes it.
    fn wake_background(mut st: MutexGuard<'_, State>) {
        st.background_due = true;
        let thread = st.background.clone();
        drop(st);
        if let Some(thread) = thread {
            thread.unpark();
        }
    }

    /// Has the background thread watch, waking it if it was not watching.
    fn watch(st: &mut State) -> Option<Thread> {
        if std::mem::replace(&mut st.watching, true) {
            None
        } else {
            st.background.clone()
        }
    }

    /// The background thread: polls the driver for its own work, and watches that someone polls
    /// it for the rest.
    fn run_background(self: Arc<Self>) {
        self.lock().background = Some(sync::current());
        // What the previous look saw, while watching.
        let mut look: Option<Look> = None;
        loop {
            let mut st = self.lock();
            if st.finished {
                return;
            }
            if std::mem::take(&mut st.background_due) {
                st.notified = true;
                self.drive(st);
                continue;
            }
            if !st.watching {
                look = None;
                drop(st);
                park();
                continue;
            }
            let before = *look.get_or_insert(Look {
                polls: st.polls,
                waiting: st.waiting(),
                quiet: Duration::ZERO,
            });
            drop(st);
            // Each look follows a wait: taking over never spins, even while another thread
            // holds the driver.
            park_timeout(WATCHDOG);
            let mut st = self.lock();
            if !st.watching {
                continue;
            }
            let waiting = st.waiting();
            // Work that waited at the previous look, with no poll begun since: its owner does
            // not poll (a leader that stopped polling, a request not awaited).
            let stale = waiting && before.waiting && st.polls == before.polls;
            let quiet = if st.polls == before.polls && !waiting {
                before.quiet + WATCHDOG
            } else {
                Duration::ZERO
            };
            look = Some(Look {
                polls: st.polls,
                waiting,
                quiet,
            });
            let event_leader = st.leader.is_some() && st.event_leader;
            // After a watch event's waiter resigned, with no call awaited since, quiet is as
            // short as while it led.
            let idle = if st.event_leader { EVENT_IDLE } else { IDLE };
            if !stale && quiet < idle {
                continue;
            }
            // A leader that stopped polling, or a call's leader after a quiet spell, no longer
            // gets wake-ups: this thread does. A quiet event leader keeps them: the next one
            // routed to it starts the looks again.
            let demoted = if stale || !event_leader {
                st.leader.take()
            } else {
                None
            };
            if quiet >= idle {
                // Quiet for a while: a new leader or submission wakes this thread to watch again,
                // from a fresh look.
                st.watching = false;
                look = None;
            }
            if stale {
                st.notified = true;
                self.drive(st);
            } else {
                drop(st);
            }
            drop(demoted);
        }
    }
}

impl Assist {
    /// [`InlineDriver::wait`], and [`InlineDriver::wait_for_event`] when `event`.
    fn lead(&self, token: u64, waker: &Waker, event: bool) {
        let mut st = self.lock();
        let replaced = match &st.leader {
            Some((t, w)) if *t == token && w.will_wake(waker) => None,
            _ => st.leader.replace((token, waker.clone())),
        };
        st.event_leader = event;
        // A task awaiting an event may wait long, and nothing waits for it to poll until a
        // wake-up is routed to it: that starts the looks (see `route`).
        let watcher = if event { None } else { Assist::watch(&mut st) };
        self.drive(st);
        // Not before: waking the watcher or dropping a waker may run executor code.
        if let Some(thread) = watcher {
            thread.unpark();
        }
        drop(replaced);
    }
}

impl InlineDriver for Assist {
    fn new_token(&self) -> u64 {
        self.tokens.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn wait(&self, token: u64, waker: &Waker) {
        self.lead(token, waker, false);
    }

    fn wait_for_event(&self, token: u64, waker: &Waker) {
        self.lead(token, waker, true);
    }

    fn resign(&self, token: u64) {
        let mut st = self.lock();
        let demoted = match &st.leader {
            Some((t, _)) if *t == token => st.leader.take(),
            _ => None,
        };
        // A wake-up may have reached this task meanwhile: serve it. (Submissions may wait: the
        // task is not about to sleep.)
        if st.routed {
            self.drive(st);
        } else {
            drop(st);
        }
        drop(demoted);
    }

    fn submitted(&self) {
        let mut st = self.lock();
        st.notified = true;
        st.unwritten = true;
        let watcher = Assist::watch(&mut st);
        drop(st);
        if let Some(thread) = watcher {
            thread.unpark();
        }
    }

    fn flush(&self) {
        let st = self.lock();
        if st.unwritten {
            self.drive(st);
        }
    }

    fn kick(&self) {
        let mut st = self.lock();
        st.notified = true;
        self.drive(st);
    }
}

impl std::fmt::Debug for Assist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assist").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
