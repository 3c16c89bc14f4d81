//! The recipes under faults on a real 3-member ensemble: members killed and restarted, frozen
//! and thawed, one at a time, while clients use the mutex; an independent checker watches the
//! holders.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use zk_recipes::{FencingToken, LossPolicy, Mutex};

use super::{Rng, Want};
use crate::conformance::{ensemble_slot, Adapter, Api, Connect, Env, EVENT_WAIT, SLOW_WAIT};
use crate::{Ensemble, ServerOptions};

/// Faults injected from a thread of its own until stopped: every 0.5-1.5 s one member is
/// killed and restarted a second later, or frozen for 1-3 s and thawed.
pub(crate) struct Chaos {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(Ensemble, Vec<String>)>,
}

impl Chaos {
    pub(crate) fn start(ensemble: Ensemble, seed: u64) -> Chaos {
        Chaos::start_on(ensemble, seed, Box::new(|| None))
    }

    /// Like [`Chaos::start`], the member hit chosen by `target` when it names one (the member a
    /// client is connected to, say), at random otherwise.
    pub(crate) fn start_on(
        mut ensemble: Ensemble,
        seed: u64,
        target: Box<dyn Fn() -> Option<usize> + Send>,
    ) -> Chaos {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut rng = Rng(seed | 1);
            let mut log = Vec::new();
            let pause = |ms: u64| std::thread::sleep(Duration::from_millis(ms));
            while !stopping.load(Ordering::SeqCst) {
                pause(500 + rng.below(1000));
                let random = rng.below(3) as usize;
                let member = target().unwrap_or(random);
                if rng.below(2) == 0 {
                    log.push(format!("kill {member}"));
                    let _ = ensemble.kill(member);
                    pause(1000);
                    let _ = ensemble.restart(member);
                } else {
                    let frozen = 1000 + rng.below(2000);
                    log.push(format!("freeze {member} {frozen} ms"));
                    let _ = ensemble.pause(member);
                    pause(frozen);
                    let _ = ensemble.resume(member);
                }
            }
            (ensemble, log)
        });
        Chaos { stop, thread }
    }

    pub(crate) fn stop(self) -> (Ensemble, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.join() {
            Ok(out) => out,
            Err(_) => panic!("the chaos thread panicked"),
        }
    }
}

/// The independent checker: who acts now (holder, token, node), the greatest token seen, and
/// a client of its own that asks the ensemble whether a holder's session is live (its
/// ephemeral node exists: the server's view, not the holder's).
struct Checker {
    observer: zk_blocking::Client,
    acting: StdMutex<Option<(usize, FencingToken, String)>>,
    greatest: StdMutex<Option<FencingToken>>,
    acts: AtomicUsize,
    stale: AtomicUsize,
}

impl Checker {
    fn new(connect_string: &str) -> Checker {
        let observer = zk_blocking::Client::builder(connect_string)
            .connect_wait(SLOW_WAIT)
            .connect()
            .unwrap_or_else(|e| panic!("the checker connects: {e}"));
        Checker {
            observer,
            acting: StdMutex::new(None),
            greatest: StdMutex::new(None),
            acts: AtomicUsize::new(0),
            stale: AtomicUsize::new(0),
        }
    }

    /// Whether `node` exists (its owner's session is live), asked until a server answers.
    /// A sync first: the observer's member may lag behind the one that told a holder its
    /// predecessor is gone (seen: a follower still showing a deleted leader's node).
    fn live(&self, node: &str) -> bool {
        loop {
            match self.observer.sync(node) {
                Ok(_) => {}
                Err(e) if e.common() == Some(zk_client::CommonError::ConnectionLoss) => continue,
                Err(e) => panic!("the checker's sync {node}: {e}"),
            }
            match self.observer.exists(node) {
                Ok(stat) => return stat.is_some(),
                Err(e) if e.common() == Some(zk_client::CommonError::ConnectionLoss) => {}
                Err(e) => panic!("the checker's exists {node}: {e}"),
            }
        }
    }

    /// Holder `worker` starts acting with `token` and its `node`. When another holder is
    /// acting, or the token is lower than one seen, the sessions are checked with the
    /// ensemble (only then: the checker's calls block): a holder whose session is dead (its
    /// node gone: it has not learned yet) acts stale, which its fencing token is there to
    /// stop, and is only counted; a live holder must find nobody else live acting, and tokens
    /// never go back among live holders. Returns whether it acts live.
    fn enter(&self, worker: usize, token: FencingToken, node: &str) -> bool {
        let mut acting = self.acting.lock().unwrap_or_else(|e| e.into_inner());
        let mut greatest = self.greatest.lock().unwrap_or_else(|e| e.into_inner());
        let regress = greatest.is_some_and(|g| token < g);
        if acting.is_some() || regress {
            if !self.live(node) {
                self.stale.fetch_add(1, Ordering::SeqCst);
                return false;
            }
            if let Some((other, other_token, other_node)) = acting.as_ref() {
                assert!(
                    !self.live(other_node),
                    "worker {worker} (token {token:?}) acts while worker {other} (token \
                     {other_token:?}) acts with a live session"
                );
            }
            assert!(
                !regress,
                "worker {worker} acts live with token {token:?} after {:?}",
                *greatest
            );
        }
        *greatest = Some(token);
        *acting = Some((worker, token, node.to_owned()));
        self.acts.fetch_add(1, Ordering::SeqCst);
        true
    }

    fn exit(&self, worker: usize) {
        let mut acting = self.acting.lock().unwrap_or_else(|e| e.into_inner());
        if acting.as_ref().is_some_and(|(w, _, _)| *w == worker) {
            *acting = None;
        }
    }
}

/// What both chaos tests start with: a 3-member ensemble under [`Chaos`] (seeded from the
/// clock, the seed printed), clients' options (6 s sessions), and the checker.
struct Setup {
    connect_string: String,
    options: Connect,
    chaos: Chaos,
    checker: Arc<Checker>,
}

impl Setup {
    fn start(adapter: &str) -> Setup {
        let ensemble = Ensemble::start(3, &ServerOptions::fast_expiry())
            .unwrap_or_else(|e| panic!("starting a 3-member ZooKeeper ensemble: {e}"));
        let connect_string = ensemble.connect_string();
        let options = Connect::new(&connect_string)
            .session_timeout(Duration::from_secs(6))
            .connect_wait(SLOW_WAIT);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        eprintln!("[{adapter}] chaos seed {seed}");
        let checker = Arc::new(Checker::new(&connect_string));
        Setup {
            connect_string,
            options,
            chaos: Chaos::start(ensemble, seed),
            checker,
        }
    }
}

/// How long one acquire may wait for the lock.
const ACQUIRE_WAIT: Duration = Duration::from_secs(30);

/// Five clients, each with its own session, take one mutex 200 times in all while members of
/// the ensemble are killed, frozen and restarted. The checker sees at most one holder acting
/// with a connected session at a time, with fencing tokens that never go back; every acquire
/// succeeds or fails with a typed error within its wait (none hangs); no lock node is left.
pub async fn mutex_under_chaos_keeps_one_holder<A: Adapter>(env: Env) {
    const WORKERS: usize = 5;
    const ACQUISITIONS: usize = 200;
    let _slot = ensemble_slot();
    let Setup {
        connect_string,
        options,
        chaos,
        checker,
    } = Setup::start(A::NAME);
    let lock = env.path("chaos-lock");
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(StdMutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let (options, lock) = (options.clone(), lock.clone());
        let (checker, done, failures) = (checker.clone(), done.clone(), failures.clone());
        workers.push(A::spawn(async move {
            let mut client = A::connect(&options).await.want("connect");
            while done.load(Ordering::SeqCst) < ACQUISITIONS {
                let mutex =
                    Mutex::new(client.clone(), lock.clone()).loss_policy(LossPolicy::OnDisconnect);
                let attempt = async move { mutex.try_acquire(ACQUIRE_WAIT).await };
                let Some(outcome) =
                    zk_recipes::Zk::within(&client, ACQUIRE_WAIT + EVENT_WAIT, attempt).await
                else {
                    panic!("[{}] worker {worker}: an acquire hung", A::NAME);
                };
                match outcome {
                    Ok(Some(guard)) => {
                        if guard.is_held()
                            && checker.enter(worker, guard.fencing_token(), guard.node())
                        {
                            A::sleep(Duration::from_millis(60)).await;
                            checker.exit(worker);
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                        if let Err(e) = guard.release().await {
                            lock_failure(&failures, format!("release: {e}"));
                        }
                    }
                    Ok(None) => lock_failure(&failures, "timed out".into()),
                    Err(e) => lock_failure(&failures, format!("acquire: {e}")),
                }
                if client.state().is_terminal() {
                    client.close().await;
                    client = A::connect(&options).await.want("connect again");
                }
            }
            client.close().await;
        }));
    }
    for (worker, task) in workers.into_iter().enumerate() {
        if A::timeout(Duration::from_secs(240), task).await.is_none() {
            panic!("[{}] worker {worker} never finished", A::NAME);
        }
    }
    let took = started.elapsed();
    let (mut ensemble, faults) = chaos.stop();
    for member in 0..3 {
        let _ = ensemble.resume(member);
        let _ = ensemble.restart(member);
    }
    ensemble
        .wait_serving(SLOW_WAIT)
        .unwrap_or_else(|e| panic!("the ensemble did not recover: {e}"));
    let failures = failures.lock().unwrap_or_else(|e| e.into_inner()).clone();
    eprintln!(
        "[{}] {} acquisitions ({} acts checked, {} stale) in {took:?} under {} faults \
         ({faults:?}); {} typed failures: {failures:?}",
        A::NAME,
        done.load(Ordering::SeqCst),
        checker.acts.load(Ordering::SeqCst),
        checker.stale.load(Ordering::SeqCst),
        faults.len(),
        failures.len(),
    );
    assert!(checker.acts.load(Ordering::SeqCst) > 0);

    // No lock node left behind.
    let observer = A::connect(&Connect::new(&connect_string).connect_wait(SLOW_WAIT))
        .await
        .want("connect");
    super::recipes::wait_for_children::<A>(&observer, &lock, "no lock node left", |c| c.is_empty())
        .await;
    observer.close().await;
}

fn lock_failure(failures: &StdMutex<Vec<String>>, what: String) {
    failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(what);
}

/// Five participants of one election on a 3-member ensemble whose members are killed, frozen
/// and restarted for about 20 s. Leaders act only while they lead; the checker sees at most one
/// acting with a connected session at a time, with fencing tokens that never go back; every
/// latch that ends (its session expired or closed) has reported each leadership it gained as
/// lost; a participant whose session expired joins again on a new session.
pub async fn election_under_chaos_keeps_one_leader<A: Adapter>(env: Env) {
    const PARTICIPANTS: usize = 5;
    const RUN: Duration = Duration::from_secs(20);
    let _slot = ensemble_slot();
    let Setup {
        options,
        chaos,
        checker,
        ..
    } = Setup::start(A::NAME);
    let path = env.path("chaos-election");
    let sessions = Arc::new(AtomicUsize::new(0));
    // The leader's session (id, password), for expiring it from outside.
    let leader = Arc::new(StdMutex::new(
        None::<(zk_client::proto::SessionId, bytes::Bytes)>,
    ));
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for participant in 0..PARTICIPANTS {
        let (options, path) = (options.clone(), path.clone());
        let (checker, sessions, leader) = (checker.clone(), sessions.clone(), leader.clone());
        tasks.push(A::spawn(async move {
            while Instant::now() < deadline {
                let client = A::connect(&options).await.want("connect");
                sessions.fetch_add(1, Ordering::SeqCst);
                let latch = zk_recipes::Election::new(client.clone(), path.clone())
                    .loss_policy(LossPolicy::OnDisconnect)
                    .join(format!("p{participant}").into_bytes());
                while Instant::now() < deadline && latch.ended().is_none() {
                    let leading = latch.fencing_token().zip(latch.node());
                    match leading {
                        Some((token, node)) => {
                            *leader.lock().unwrap_or_else(|e| e.into_inner()) =
                                Some((client.session_id(), client.session_password()));
                            if checker.enter(participant, token, &node) {
                                A::sleep(Duration::from_millis(50)).await;
                                checker.exit(participant);
                            } else {
                                A::sleep(Duration::from_millis(20)).await;
                            }
                        }
                        None => A::sleep(Duration::from_millis(20)).await,
                    }
                }
                latch.close().await;
                // Every leadership gained was reported, and reported lost by the end.
                let mut events = Vec::new();
                while let Some(event) = latch.next_event().await {
                    events.push(event);
                }
                for (i, event) in events.iter().enumerate() {
                    let gained = matches!(event, zk_recipes::LeadershipEvent::Gained(_));
                    assert_eq!(
                        gained,
                        i % 2 == 0,
                        "[{}] participant {participant}: events {events:?}",
                        A::NAME
                    );
                }
                assert!(
                    events.len() % 2 == 0,
                    "[{}] participant {participant}: a leadership never reported lost: {events:?}",
                    A::NAME
                );
                client.close().await;
            }
        }));
    }
    // Every few seconds, the leader's session is expired from outside (resumed elsewhere and
    // closed there): it must be told it lost leadership, and someone else leads.
    let mut expiries = 0;
    while Instant::now() + Duration::from_secs(4) < deadline {
        A::sleep(Duration::from_secs(3)).await;
        let taken = leader.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some((id, password)) = taken else {
            continue;
        };
        if let Ok(twin) = A::connect(&options.clone().resume(id, password)).await {
            twin.close().await;
            expiries += 1;
        }
    }
    for (participant, task) in tasks.into_iter().enumerate() {
        if A::timeout(RUN + Duration::from_secs(120), task)
            .await
            .is_none()
        {
            panic!("[{}] participant {participant} never finished", A::NAME);
        }
    }
    let (mut ensemble, faults) = chaos.stop();
    for member in 0..3 {
        let _ = ensemble.resume(member);
        let _ = ensemble.restart(member);
    }
    eprintln!(
        "[{}] {} leader acts checked ({} stale), {} sessions, {expiries} leaders expired, under \
         {} faults ({faults:?})",
        A::NAME,
        checker.acts.load(Ordering::SeqCst),
        checker.stale.load(Ordering::SeqCst),
        sessions.load(Ordering::SeqCst),
        faults.len(),
    );
    assert!(checker.acts.load(Ordering::SeqCst) > 0, "someone led");
}
