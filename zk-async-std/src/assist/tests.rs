//! Model checks of the hand-over: every thread here is a shuttle thread, scheduled in random
//! (and PCT) orders, and every lock and park of [`Assist`] is a point where shuttle may switch
//! threads. A lost wake-up shows as a deadlock (every thread parked), which fails the check; two
//! threads polling the driver at once fail an assertion in the driver.
//!
//! Shuttle does not model time: `park_timeout` waits like `park`, so the watchdog looks only
//! when a test's clock thread unparks the background thread. Scenarios whose progress must not
//! depend on the watchdog run without one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};

use shuttle::sync::{Condvar, Mutex};
use shuttle::thread;

use super::*;

/// Random schedules per scenario.
const RANDOM: usize = 300;
/// PCT schedules per scenario, and the bug depth they look for.
const PCT: usize = 300;
const PCT_DEPTH: usize = 3;

/// A fake connection to a fake server, and the reply slots of the calls.
#[derive(Default)]
struct World {
    /// Requests submitted, not yet written by the driver.
    submitted: Mutex<VecDeque<usize>>,
    /// Requests written, not yet answered by the server.
    wire: Mutex<VecDeque<usize>>,
    wire_ready: Condvar,
    /// Replies sent by the server and not yet read by the driver, and the driver's waker.
    socket: Mutex<(VecDeque<usize>, Option<Waker>)>,
    /// Per call: the reply arrived, and the waker of the call's task.
    replies: Mutex<Vec<(bool, Option<Waker>)>>,
    /// A thread polls the driver.
    polling: AtomicBool,
    /// The driver ends at its next poll.
    close: AtomicBool,
    /// The server holds its replies until [`World::release`].
    held: Mutex<bool>,
    released: Condvar,
}

impl World {
    fn new(calls: usize) -> Arc<World> {
        let world = World::default();
        *world.replies.lock().unwrap() = vec![(false, None); calls];
        Arc::new(world)
    }

    /// The session's driver: writes what was submitted, reads what the server sent, and
    /// delivers replies, waking their tasks.
    fn driver(self: &Arc<Self>) -> BoxFuture<()> {
        let world = self.clone();
        Box::pin(std::future::poll_fn(move |cx| {
            assert!(
                !world.polling.swap(true, SeqCst),
                "two threads poll the driver at once"
            );
            let written: Vec<usize> = world.submitted.lock().unwrap().drain(..).collect();
            if !written.is_empty() {
                world.wire.lock().unwrap().extend(written);
                world.wire_ready.notify_all();
            }
            let arrived: Vec<usize> = {
                let mut socket = world.socket.lock().unwrap();
                let arrived = socket.0.drain(..).collect();
                // Registered under the socket's lock: a reply sent after this wakes the router.
                socket.1 = Some(cx.waker().clone());
                arrived
            };
            let mut woken = Vec::new();
            {
                let mut replies = world.replies.lock().unwrap();
                for call in arrived {
                    replies[call].0 = true;
                    woken.extend(replies[call].1.take());
                }
            }
            woken.into_iter().for_each(Waker::wake);
            world.polling.store(false, SeqCst);
            if world.close.load(SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }))
    }

    /// The server: answers `calls` requests, one at a time, as they are written.
    fn serve(self: &Arc<Self>, calls: usize) -> thread::JoinHandle<()> {
        let world = self.clone();
        thread::spawn(move || {
            for _ in 0..calls {
                let call = {
                    let mut wire = world.wire.lock().unwrap();
                    loop {
                        if let Some(call) = wire.pop_front() {
                            break call;
                        }
                        wire = world.wire_ready.wait(wire).unwrap();
                    }
                };
                let mut held = world.held.lock().unwrap();
                while *held {
                    held = world.released.wait(held).unwrap();
                }
                drop(held);
                let waker = {
                    let mut socket = world.socket.lock().unwrap();
                    socket.0.push_back(call);
                    socket.1.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        })
    }

    /// The server answers nothing until [`World::release`].
    fn hold(&self) {
        *self.held.lock().unwrap() = true;
    }

    fn release(&self) {
        *self.held.lock().unwrap() = false;
        self.released.notify_all();
    }

    /// Submits call `call` (as `Shared` does: queued for the driver, then `submitted`).
    fn submit(&self, assist: &Assist, call: usize) {
        self.submitted.lock().unwrap().push_back(call);
        assist.submitted();
    }

    /// Whether the reply of `call` is here; registers `waker` for it when it is not (as the
    /// reply's channel does).
    fn reply_or_register(&self, call: usize, waker: Option<&Waker>) -> bool {
        let mut replies = self.replies.lock().unwrap();
        let (arrived, registered) = &mut replies[call];
        if !*arrived {
            if let Some(waker) = waker {
                *registered = Some(waker.clone());
            }
        }
        *arrived
    }

    /// Ends the session: the next poll of the driver returns `Ready`.
    fn close(&self, assist: &Assist) {
        self.close.store(true, SeqCst);
        assist.kick();
    }
}

/// A hand-over of `world`'s driver, and its background thread.
fn start(world: &Arc<World>) -> (Arc<Assist>, thread::JoinHandle<()>) {
    let mut background = None;
    let assist = Assist::start_on(world.driver(), |run| {
        background = Some(thread::spawn(run));
        Ok(())
    })
    .unwrap();
    (assist, background.unwrap())
}

/// A task's waker: unparks the shuttle thread that runs the task.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Awaits the reply of `call` as `Reply::poll` does, on a thread standing for the task:
/// check, lead and drive, register, sleep until woken.
fn await_reply(world: &World, assist: &Assist, call: usize) {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let token = assist.new_token();
    loop {
        if world.reply_or_register(call, None) {
            break;
        }
        assist.wait(token, &waker);
        if world.reply_or_register(call, Some(&waker)) {
            break;
        }
        thread::park();
    }
    assist.resign(token);
}

/// Waits until `call`'s reply is here, driving nothing (as a task awaiting another future
/// first does).
fn sleep_until_replied(world: &World, call: usize) {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    while !world.reply_or_register(call, Some(&waker)) {
        thread::park();
    }
}

/// A clock for the watchdog: unparks the background thread until `stop`.
fn watchdog_clock(assist: &Arc<Assist>, stop: &Arc<AtomicBool>) -> thread::JoinHandle<()> {
    let (assist, stop) = (assist.clone(), stop.clone());
    thread::spawn(move || {
        while !stop.load(SeqCst) {
            if let Some(background) = assist.lock().background.clone() {
                background.unpark();
            }
            thread::yield_now();
        }
    })
}

/// Runs `scenario` under random and PCT schedules.
fn check(scenario: fn()) {
    shuttle::check_random(scenario, RANDOM);
    shuttle::check_pct(scenario, PCT, PCT_DEPTH);
}

/// One scenario's world: the hand-over of its driver, the background thread, the server
/// answering `calls` requests, and (for scenarios that need the watchdog) its clock.
struct Model {
    world: Arc<World>,
    assist: Arc<Assist>,
    background: thread::JoinHandle<()>,
    server: thread::JoinHandle<()>,
    clock: Option<(Arc<AtomicBool>, thread::JoinHandle<()>)>,
}

impl Model {
    fn new(calls: usize, watchdog: bool) -> Model {
        let world = World::new(calls);
        let (assist, background) = start(&world);
        let server = world.serve(calls);
        let clock = watchdog.then(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let clock = watchdog_clock(&assist, &stop);
            (stop, clock)
        });
        Model {
            world,
            assist,
            background,
            server,
            clock,
        }
    }

    /// A task on a thread of its own that makes call `call` and awaits it.
    fn caller(&self, call: usize) -> thread::JoinHandle<()> {
        let (world, assist) = (self.world.clone(), self.assist.clone());
        thread::spawn(move || {
            world.submit(&assist, call);
            await_reply(&world, &assist, call);
        })
    }

    /// Once every call was answered: ends the session and checks that the background thread
    /// ends with it.
    fn finish(self) {
        self.server.join().unwrap();
        if let Some((stop, clock)) = self.clock {
            stop.store(true, SeqCst);
            clock.join().unwrap();
        }
        self.world.close(&self.assist);
        // Polled to its end by this thread, or by the one polling it when this one kicked; the
        // background thread ends either way.
        self.background.join().unwrap();
        assert!(self.assist.lock().finished);
        // The driver held the only other handle on the world.
        assert_eq!(Arc::strong_count(&self.world), 1, "the driver was dropped");
    }
}

/// Tasks on several threads each make a call and await it: every reply reaches its task, with
/// no watchdog, whatever the order in which they submit, lead, poll and resign.
#[test]
fn concurrent_callers_all_get_their_replies_without_the_watchdog() {
    check(|| {
        const CALLS: usize = 3;
        let model = Model::new(CALLS, false);
        let callers: Vec<_> = (0..CALLS).map(|call| model.caller(call)).collect();
        callers.into_iter().for_each(|c| c.join().unwrap());
        model.finish();
    });
}

/// One task makes two calls in a row and awaits them in turn, as `join!` or a loop does: the
/// second is written by the first wait that needs it, with no watchdog.
#[test]
fn calls_made_together_and_awaited_in_turn_complete_without_the_watchdog() {
    check(|| {
        let model = Model::new(2, false);
        let (world, assist) = (&model.world, &model.assist);
        world.submit(assist, 0);
        world.submit(assist, 1);
        await_reply(world, assist, 0);
        await_reply(world, assist, 1);
        model.finish();
    });
}

/// A task polls its call once, becoming the leader, and then never again (a `select!` took
/// another branch): the reply's wake-up goes to a leader that does not poll, and the watchdog
/// takes over and delivers it.
#[test]
fn a_leader_that_stops_polling_is_taken_over_by_the_watchdog() {
    check(|| {
        let model = Model::new(1, true);
        let (world, assist) = (&model.world, &model.assist);
        world.submit(assist, 0);
        let deaf = Waker::from(Arc::new(Unpark(thread::current())));
        let token = assist.new_token();
        if !world.reply_or_register(0, None) {
            // Leads, polls once (writing the request), and is never polled again.
            assist.wait(token, &deaf);
        }
        sleep_until_replied(world, 0);
        model.finish();
    });
}

/// The same for a leader awaiting a watch event (`wait_for_event`), which starts no looks: the
/// looks started by the submission stop after a quiet spell while it keeps leading, and only
/// then does the reply come; routed to the leader, it starts the looks again, and they take
/// over.
#[test]
fn an_event_leader_that_stops_polling_is_taken_over_by_the_watchdog() {
    check(|| {
        let model = Model::new(1, true);
        let (world, assist) = (&model.world, &model.assist);
        world.hold();
        world.submit(assist, 0);
        let deaf = Waker::from(Arc::new(Unpark(thread::current())));
        // Leads, polls once (writing the request), and is never polled again.
        assist.wait_for_event(assist.new_token(), &deaf);
        while assist.lock().watching {
            thread::yield_now();
        }
        assert!(
            assist.lock().leader.is_some(),
            "a quiet event leader keeps leading"
        );
        world.release();
        sleep_until_replied(world, 0);
        model.finish();
    });
}

/// A call made and never awaited (its caller awaits something else first) is written by the
/// background thread, and its reply arrives.
#[test]
fn a_call_nobody_awaits_is_written_by_the_watchdog() {
    check(|| {
        let model = Model::new(1, true);
        model.world.submit(&model.assist, 0);
        sleep_until_replied(&model.world, 0);
        model.finish();
    });
}

/// A dropped call flushes what was submitted (`Reply`'s drop calls `flush`): the request goes
/// out without a watchdog, and a later caller gets its own reply.
#[test]
fn a_dropped_call_sends_its_request_without_the_watchdog() {
    check(|| {
        let model = Model::new(2, false);
        model.world.submit(&model.assist, 0);
        model.assist.flush();
        model.caller(1).join().unwrap();
        // The dropped call's reply is read by whoever polls next: the second call's wait did,
        // or the background thread does on the router's wake-up.
        sleep_until_replied(&model.world, 0);
        model.finish();
    });
}

/// A session that ends while tasks wait: the driver is polled to its end once, the background
/// thread ends, and later calls to the hand-over poll nothing.
#[test]
fn the_end_of_the_session_ends_the_background_thread_and_all_polling() {
    check(|| {
        let world = World::new(1);
        let (assist, background) = start(&world);
        let closer = {
            let (world, assist) = (world.clone(), assist.clone());
            thread::spawn(move || world.close(&assist))
        };
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let token = assist.new_token();
        assist.wait(token, &waker);
        assist.resign(token);
        closer.join().unwrap();
        background.join().unwrap();
        assert!(assist.lock().finished);
        // The driver held the only other handle on the world: it was dropped, and a kick now
        // finds nothing to poll.
        assert_eq!(Arc::strong_count(&world), 1, "the driver was dropped");
        assist.kick();
    });
}

/// A driver that panics is dropped (which fails every call with `Closed`) and polled no more:
/// the session ends rather than leaving the hand-over marked as polling forever.
#[test]
fn a_driver_that_panics_ends_the_session() {
    check(|| {
        /// Sets its flag when dropped.
        struct Dropped(Arc<AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = Dropped(dropped.clone());
        let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = polls.clone();
        let main = thread::current().id();
        // Panics when this thread polls it (shuttle fails a check on a panic in its own
        // threads, so the background thread must not be the one).
        let driver: BoxFuture<()> = Box::pin(std::future::poll_fn(move |_| {
            let _keep = &guard;
            counted.fetch_add(1, SeqCst);
            assert!(thread::current().id() != main, "driver bug");
            Poll::<()>::Pending
        }));
        let mut background = None;
        let assist = Assist::start_on(driver, |run| {
            background = Some(thread::spawn(run));
            Ok(())
        })
        .unwrap();
        // A kick polls here unless the background thread polls at that moment.
        while std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assist.kick())).is_ok() {
            thread::yield_now();
        }
        assert!(dropped.load(SeqCst), "the driver was dropped");
        background.unwrap().join().unwrap();
        assert!(assist.lock().finished);
        let before = polls.load(SeqCst);
        assist.kick();
        assert_eq!(polls.load(SeqCst), before, "and never polled again");
    });
}
