//! Driving the session on the threads that wait for it, for runtimes whose cross-thread
//! wake-ups are costly.
//!
//! On async-io (async-std, smol) a driver running on a thread of its own costs a futex wake-up,
//! and often an eventfd write, every time a reply batch goes to a waiting task and every time a
//! task hands the driver new requests: that doubled the client's CPU per request. So for such
//! runtimes ([`Runtime::DRIVE_INLINE`](crate::Runtime::DRIVE_INLINE)) the driver is not a task:
//!
//! * a task awaiting a reply that has not arrived polls the driver itself, on its own thread,
//!   and becomes the *leader*;
//! * the driver registers one waker with every source it waits on (socket, timers, signal):
//!   the router, which wakes the leader when there is one and the background thread otherwise;
//! * a submitted request is written by the next poll of the driver: the one made by a task
//!   about to sleep on a reply, by a dropped call, by a blocking wait (`Pending::wait`), or by
//!   the background thread. Requests made
//!   one after another (each reply answered with a new request, a `join!` of calls) thus share
//!   one write, as they do with a driver task.
//!
//! Whoever is woken polls the driver; when another thread is polling it already, that one polls
//! again (`notified`), so a wake-up is never lost between two pollers. A leader resigns when its
//! reply arrives or its call is dropped. Two things could wait for a poll that never comes: a
//! wake-up routed to a leader that keeps its call but stops polling it (a `select!` that took
//! another branch), and a request whose caller awaits something else first. So while there is a
//! leader or a request to write, the background thread looks every [`WATCHDOG`] and takes over
//! what has waited for a whole period (a request made and not awaited goes out within two
//! periods); after [`IDLE_TICKS`] quiet periods it stops looking until there is work again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use crate::runtime::BoxFuture;

/// How often the background thread checks, while there is a leader or a request to write, that
/// someone polls the driver.
pub(crate) const WATCHDOG: Duration = Duration::from_millis(2);
/// Quiet checks (100 ms) after which the background thread stops watching.
pub(crate) const IDLE_TICKS: u32 = 50;
/// Polls of the driver one caller makes before leaving further work to the background thread.
const MAX_ROUNDS: usize = 8;

/// Leader tokens; 0 means "never led".
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A new leader token (never 0).
pub(crate) fn next_token() -> u64 {
    NEXT_TOKEN.fetch_add(1, SeqCst)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A driver shared by the threads that wait for it, with a background thread as a fallback.
pub(crate) struct Assist {
    /// The driver; polled only by the thread that set `driving`.
    driver: Mutex<Option<BoxFuture<()>>>,
    driving: AtomicBool,
    /// A source woke the driver since its last poll started.
    notified: AtomicBool,
    /// The driver returned `Ready`: the session is over.
    finished: AtomicBool,
    /// The task woken on the driver's behalf, and its token.
    leader: Mutex<Option<(u64, Waker)>>,
    /// Wake-ups routed to a leader, and how many of them a poll of the driver has since served.
    routed: AtomicU64,
    served: AtomicU64,
    /// Submissions left for the next poll of the driver to write, and how many of them a poll
    /// has since written.
    deferred: AtomicU64,
    flushed: AtomicU64,
    /// The background thread is watching a leader, every `watchdog`. Changed only under the
    /// `leader` lock, so that a new leader and a watch that ends cannot miss each other.
    watching: AtomicBool,
    /// The background thread has work of its own: a wake-up that found no leader, a caller
    /// that left work after [`MAX_ROUNDS`], or the end of the session.
    background_due: AtomicBool,
    watchdog: Duration,
    background: OnceLock<Thread>,
    /// The waker the driver registers everywhere.
    router: Waker,
}

/// Ends the session if polling the driver panics: left as it was, `driving` would stay set and
/// every call would wait forever. Dropping the driver fails them all with `Closed` instead.
struct Unwinding<'a>(&'a Assist);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        let driver = lock(&self.0.driver).take();
        self.0.finished.store(true, SeqCst);
        self.0.driving.store(false, SeqCst);
        drop(driver);
        self.0.wake_background();
    }
}

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
    /// Takes over `driver` and starts the background thread.
    pub(crate) fn start(driver: BoxFuture<()>) -> std::io::Result<Arc<Assist>> {
        Assist::start_with(driver, WATCHDOG)
    }

    fn start_with(driver: BoxFuture<()>, watchdog: Duration) -> std::io::Result<Arc<Assist>> {
        let assist = Arc::new_cyclic(|weak| Assist {
            driver: Mutex::new(Some(driver)),
            driving: AtomicBool::new(false),
            notified: AtomicBool::new(true),
            finished: AtomicBool::new(false),
            leader: Mutex::new(None),
            routed: AtomicU64::new(0),
            served: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            watching: AtomicBool::new(false),
            background_due: AtomicBool::new(false),
            watchdog,
            background: OnceLock::new(),
            router: Waker::from(Arc::new(Router(weak.clone()))),
        });
        let background = assist.clone();
        std::thread::Builder::new()
            .name("zk-session".into())
            .spawn(move || background.run_background())?;
        Ok(assist)
    }

    /// New work for the driver that no source signals (a dropped watch, a close, deferred
    /// submissions to write now): polls it now.
    pub(crate) fn kick(&self) {
        self.notified.store(true, SeqCst);
        self.drive();
    }

    /// A request was submitted: it is written by the next poll of the driver, which comes when
    /// a task waits for a reply that has not arrived (as it is about to sleep), when a call is
    /// dropped or waited for by blocking, or at the latest from the background thread within
    /// two [`WATCHDOG`] periods. Requests submitted in one go thus share one write.
    pub(crate) fn defer(&self) {
        self.notified.store(true, SeqCst);
        self.deferred.fetch_add(1, SeqCst);
        if !self.watching.load(SeqCst) {
            let leader = lock(&self.leader);
            let start_watching = !self.watching.swap(true, SeqCst);
            drop(leader);
            if start_watching {
                self.unpark_background();
            }
        }
    }

    /// Writes the submissions still waiting for a poll of the driver.
    pub(crate) fn flush_deferred(&self) {
        if self.flushed.load(SeqCst) < self.deferred.load(SeqCst) {
            self.kick();
        }
    }

    /// Polls the driver if anything woke it since its last poll, unless another thread is
    /// polling it (that one then polls again).
    pub(crate) fn drive(&self) {
        let mut rounds = 0;
        while self.notified.load(SeqCst) && !self.finished.load(SeqCst) {
            if self
                .driving
                .compare_exchange(false, true, SeqCst, SeqCst)
                .is_err()
            {
                return;
            }
            {
                let unwinding = Unwinding(self);
                let mut driver = lock(&self.driver);
                while let Some(fut) = driver.as_mut() {
                    self.notified.store(false, SeqCst);
                    self.served.store(self.routed.load(SeqCst), SeqCst);
                    self.flushed.store(self.deferred.load(SeqCst), SeqCst);
                    if fut
                        .as_mut()
                        .poll(&mut Context::from_waker(&self.router))
                        .is_ready()
                    {
                        *driver = None;
                        self.finished.store(true, SeqCst);
                        break;
                    }
                    rounds += 1;
                    if !self.notified.load(SeqCst) || rounds >= MAX_ROUNDS {
                        break;
                    }
                }
                drop(driver);
                std::mem::forget(unwinding);
            }
            self.driving.store(false, SeqCst);
            if self.finished.load(SeqCst) {
                // Let the background thread end.
                self.wake_background();
                return;
            }
            if rounds >= MAX_ROUNDS && self.notified.load(SeqCst) {
                // Plenty of work: the background thread goes on with it.
                self.wake_background();
                return;
            }
        }
    }

    /// A source woke the driver: wake the leader, or the background thread.
    fn route(&self) {
        self.notified.store(true, SeqCst);
        if self.driving.load(SeqCst) {
            // The thread polling the driver sees `notified` and polls again.
            return;
        }
        let leader = lock(&self.leader).take();
        match leader {
            Some((_, waker)) => {
                self.routed.fetch_add(1, SeqCst);
                waker.wake();
            }
            None => self.wake_background(),
        }
    }

    fn wake_background(&self) {
        self.background_due.store(true, SeqCst);
        self.unpark_background();
    }

    fn unpark_background(&self) {
        if let Some(thread) = self.background.get() {
            thread.unpark();
        }
    }

    /// The task with `token` waits for a reply: route the driver's wake-ups to `waker`.
    pub(crate) fn lead(&self, token: u64, waker: &Waker) {
        let mut leader = lock(&self.leader);
        let replaced = match &*leader {
            Some((t, w)) if *t == token && w.will_wake(waker) => None,
            _ => leader.replace((token, waker.clone())),
        };
        let start_watching = !self.watching.swap(true, SeqCst);
        drop(leader);
        // A waker is dropped outside the lock: dropping it may run executor code.
        drop(replaced);
        if start_watching {
            // Not `wake_background`: the thread has nothing to poll, only a leader to watch.
            self.unpark_background();
        }
    }

    /// The task with `token` no longer waits: stop routing wake-ups to it, and serve one that
    /// may have reached it meanwhile. (Submissions may wait: the task is not about to sleep.)
    pub(crate) fn resign(&self, token: u64) {
        let demoted = {
            let mut leader = lock(&self.leader);
            if matches!(&*leader, Some((t, _)) if *t == token) {
                leader.take()
            } else {
                None
            }
        };
        drop(demoted);
        if self.served.load(SeqCst) < self.routed.load(SeqCst) {
            self.drive();
        }
    }

    /// The background thread: polls the driver when woken, and watches the leader.
    fn run_background(self: Arc<Self>) {
        let _ = self.background.set(std::thread::current());
        // The first poll starts connecting (`notified` starts set).
        self.drive();
        // Wake-ups routed to the leader and submissions left to write, as of the previous check;
        // quiet checks in a row.
        let mut routed_before = self.routed.load(SeqCst);
        let mut deferred_before = self.deferred.load(SeqCst);
        let mut quiet = 0;
        while !self.finished.load(SeqCst) {
            let mut take_over = false;
            if !self.watching.load(SeqCst) {
                std::thread::park();
                routed_before = self.routed.load(SeqCst);
                deferred_before = self.deferred.load(SeqCst);
                quiet = 0;
            } else {
                std::thread::park_timeout(self.watchdog);
                let routed = self.routed.load(SeqCst);
                let deferred = self.deferred.load(SeqCst);
                // A wake-up routed to the leader from before the previous check is still
                // unserved: the leader stopped polling; demote it and take over. A submission
                // from before the previous check is still unwritten: its caller awaits something
                // else; write it (the leader, if any, is fine).
                let stale_leader = self.served.load(SeqCst) < routed_before;
                take_over = stale_leader || self.flushed.load(SeqCst) < deferred_before;
                quiet = if routed == routed_before && deferred == deferred_before {
                    quiet + 1
                } else {
                    0
                };
                routed_before = routed;
                deferred_before = deferred;
                if stale_leader || quiet >= IDLE_TICKS {
                    let mut leader = lock(&self.leader);
                    let demoted = leader.take();
                    if quiet >= IDLE_TICKS {
                        // Quiet for a while: stop watching; a new leader or submission wakes
                        // this thread to watch again. One that came meanwhile is written now.
                        self.watching.store(false, SeqCst);
                        take_over |= self.flushed.load(SeqCst) < self.deferred.load(SeqCst);
                    }
                    drop(leader);
                    drop(demoted);
                }
            }
            // Fresh wake-ups belong to the leader: poll only for this thread's own work.
            if self.background_due.swap(false, SeqCst) || take_over {
                if take_over {
                    self.notified.store(true, SeqCst);
                }
                self.drive();
            }
        }
    }
}

impl std::fmt::Debug for Assist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assist").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Poll;
    use std::thread::ThreadId;
    use std::time::Instant;

    use super::*;

    /// A driver that records its polls and the waker it was polled with.
    #[derive(Default)]
    struct Probe {
        polls: Mutex<Vec<ThreadId>>,
        waker: Mutex<Option<Waker>>,
        finish: AtomicBool,
    }

    impl Probe {
        fn driver(self: &Arc<Self>) -> BoxFuture<()> {
            let probe = self.clone();
            Box::pin(std::future::poll_fn(move |cx| {
                *lock(&probe.waker) = Some(cx.waker().clone());
                lock(&probe.polls).push(std::thread::current().id());
                if probe.finish.load(SeqCst) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }))
        }

        /// A source the driver waits on becomes ready.
        fn fire(&self) {
            let waker = lock(&self.waker).clone();
            waker.expect("the driver was polled").wake();
        }

        fn polls(&self) -> usize {
            lock(&self.polls).len()
        }

        fn wait_for_polls(&self, n: usize) -> Vec<ThreadId> {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.polls() < n {
                assert!(
                    Instant::now() < deadline,
                    "the driver was not polled {n} times"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            lock(&self.polls).clone()
        }
    }

    /// Counts its wake-ups and does nothing else: a task that never polls again.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// An assisted probe driver whose background thread checks the leader every `watchdog`.
    fn started_with(watchdog: Duration) -> (Arc<Probe>, Arc<Assist>) {
        let probe = Arc::new(Probe::default());
        let assist = Assist::start_with(probe.driver(), watchdog).unwrap();
        // The background thread polls once at start (to begin connecting).
        probe.wait_for_polls(1);
        assist.wait_until_idle();
        (probe, assist)
    }

    /// Makes a task that never polls again (it only counts its wake-ups) the leader.
    fn deaf_leader(assist: &Assist) -> Arc<Counter> {
        let counter = Arc::new(Counter::default());
        assist.lead(7, &Waker::from(counter.clone()));
        counter
    }

    fn started() -> (Arc<Probe>, Arc<Assist>) {
        started_with(WATCHDOG)
    }

    impl Assist {
        /// Waits until no thread polls the driver (the background thread's first poll is over).
        fn wait_until_idle(&self) {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.driving.load(SeqCst) {
                assert!(Instant::now() < deadline, "the driver is polled forever");
                std::thread::yield_now();
            }
        }
    }

    /// A watchdog that never looks within a test's time: only the code under test polls.
    const NEVER: Duration = Duration::from_secs(3600);

    #[test]
    fn without_a_leader_the_background_thread_serves_a_wake_up() {
        let (probe, _assist) = started();
        probe.fire();
        probe.wait_for_polls(2);
    }

    #[test]
    fn a_wake_up_goes_to_the_leader_which_polls_the_driver_on_its_own_thread() {
        let (probe, assist) = started_with(NEVER);
        // The background thread is not woken to watch: it has no reason to poll at all.
        assist.watching.store(true, SeqCst);
        let counter = deaf_leader(&assist);
        probe.fire();
        assert_eq!(counter.0.load(SeqCst), 1, "the leader was woken");
        let before = probe.polls();
        assist.drive();
        assert_eq!(probe.polls(), before + 1);
        assert_eq!(lock(&probe.polls)[before], std::thread::current().id());
        // Nothing woke the driver since: waiting again polls nothing.
        assist.drive();
        assert_eq!(probe.polls(), before + 1);
    }

    #[test]
    fn a_leader_that_stops_polling_is_taken_over_by_the_background_thread() {
        let (probe, assist) = started();
        let counter = deaf_leader(&assist);
        let before = probe.polls();
        probe.fire();
        assert_eq!(counter.0.load(SeqCst), 1);
        // The task polls its call no more, yet stays the leader (as a call kept by a `select!`
        // that took another branch would): nobody polls on its behalf, so the watchdog does,
        // within two periods, and demotes it.
        assist.lead(7, &Waker::from(counter.clone()));
        probe.wait_for_polls(before + 1);
        // Later wake-ups go to the background thread directly, not to the stale leader.
        probe.fire();
        probe.wait_for_polls(before + 2);
        assert_eq!(
            counter.0.load(SeqCst),
            1,
            "the stale leader is no longer woken"
        );
    }

    #[test]
    fn a_resigning_leader_serves_a_wake_up_routed_to_it() {
        let (probe, assist) = started_with(NEVER);
        assist.watching.store(true, SeqCst);
        let _leader = deaf_leader(&assist);
        let before = probe.polls();
        probe.fire();
        assist.resign(7);
        let polls = probe.wait_for_polls(before + 1);
        assert_eq!(polls[before..], [std::thread::current().id()]);
    }

    #[test]
    fn a_wake_up_while_the_driver_is_polled_makes_the_poller_poll_again() {
        let probe = Arc::new(Probe::default());
        let inner = probe.clone();
        // A driver that wakes itself during its second poll (the first is the background
        // thread's, at start), as a source that becomes ready mid-poll would.
        let driver: BoxFuture<()> = Box::pin(std::future::poll_fn(move |cx| {
            let polls = {
                let mut polls = lock(&inner.polls);
                polls.push(std::thread::current().id());
                polls.len()
            };
            if polls == 2 {
                cx.waker().wake_by_ref();
            }
            Poll::<()>::Pending
        }));
        let assist = Assist::start_with(driver, NEVER).unwrap();
        probe.wait_for_polls(1);
        assist.wait_until_idle();
        // This thread's task leads; a source wakes it, and it polls the driver.
        let leader = deaf_leader(&assist);
        assist.route();
        assert_eq!(leader.0.load(SeqCst), 1, "the leader was woken");
        assist.drive();
        // The wake-up during the second poll went to no one: this same drive polled again.
        let polls = lock(&probe.polls).clone();
        let here = std::thread::current().id();
        assert_eq!(polls.len(), 3, "polls: {polls:?}");
        assert_eq!(polls[1..], [here, here]);
        assert_eq!(leader.0.load(SeqCst), 1, "the leader was not woken again");
    }

    #[test]
    fn submissions_wait_for_the_next_poll_and_share_it() {
        let (probe, assist) = started_with(NEVER);
        let before = probe.polls();
        assist.defer();
        assist.defer();
        // A task that gets a reply that was already there does not write.
        assist.resign(7);
        assert_eq!(probe.polls(), before, "nothing written yet");
        // A task about to sleep on a reply polls once, for both.
        assist.lead(7, &Waker::from(Arc::new(Counter::default())));
        assist.drive();
        assert_eq!(probe.polls(), before + 1);
        assist.flush_deferred();
        assert_eq!(probe.polls(), before + 1, "both were written by that poll");
    }

    #[test]
    fn a_submission_nobody_waits_for_is_written_by_the_background_thread() {
        let (probe, assist) = started();
        let before = probe.polls();
        assist.defer();
        probe.wait_for_polls(before + 1);
    }

    #[test]
    fn a_driver_that_panics_is_dropped_and_polled_no_more() {
        /// Sets its flag when dropped.
        struct Dropped(Arc<AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = Dropped(dropped.clone());
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = polls.clone();
        let driver: BoxFuture<()> = Box::pin(std::future::poll_fn(move |_| {
            let _keep = &guard;
            if counted.fetch_add(1, SeqCst) == 1 {
                panic!("driver bug");
            }
            Poll::<()>::Pending
        }));
        let assist = Assist::start_with(driver, NEVER).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while polls.load(SeqCst) < 1 {
            assert!(Instant::now() < deadline, "the driver was never polled");
            std::thread::yield_now();
        }
        assist.wait_until_idle();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assist.kick()));
        assert!(
            panicked.is_err(),
            "the second poll panics, on the kicking thread"
        );
        assert!(
            dropped.load(SeqCst),
            "the driver is dropped (its calls fail with Closed)"
        );
        assist.kick();
        assert_eq!(polls.load(SeqCst), 2, "and never polled again");
    }

    #[test]
    fn the_background_thread_ends_with_the_session() {
        let (probe, assist) = started();
        probe.finish.store(true, SeqCst);
        probe.fire();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&assist) > 1 {
            assert!(
                Instant::now() < deadline,
                "the background thread still runs"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(assist.finished.load(SeqCst));
    }
}
