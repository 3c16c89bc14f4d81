//! This project's ZooKeeper clients beside the other Rust clients, on the same workloads against
//! one local ZooKeeper 3.8 that the benchmark starts itself.
//!
//! ```text
//! scripts/peer-bench.sh [--pin] [--quick] [--repeat N] [--client NAME]... [--markdown FILE]
//! ```
//!
//! Clients: zk-tokio (on tokio's multi-thread runtime, called from a spawned task, and on a
//! current-thread runtime), zk-async-std (under async-std and under smol), zk-blocking;
//! `zookeeper-client` 0.11 (kezhuw) and `tokio-zookeeper` 0.4, each on both tokio runtimes;
//! `zookeeper` 0.8 (blocking); and, as the floor, the raw client of `zk_tests::raw`
//! (pre-encoded frames on a blocking socket, reading only each reply's length, xid and error).
//!
//! Workloads, one session per client:
//! 1. pipelined getData of a 1 KiB node, 256 requests in flight;
//! 2. pipelined setData of 1 KiB, 256 in flight;
//! 3. one getData at a time: latency percentiles;
//! 4. watch delivery: the client sets one-shot data watches on 10,000 nodes, then a second
//!    session (this process's, not the client's) sets every node; the figure is how fast the
//!    client receives the 10,000 events and what each costs it.
//!
//! Each client runs in a process of its own (this binary, run again with `--child`), so that
//! its CPU clock (`CLOCK_PROCESS_CPUTIME_ID`: every thread, user and system) and its peak
//! resident memory (`VmHWM`) are its own. Repetitions are interleaved (every client once per
//! repetition, in a rotated order), and each figure is the median of the repetitions with their
//! range. A blocking client has requests in flight the way its API allows: zk-blocking submits
//! them from one thread (`Client::submit`), `zookeeper` 0.8 makes blocking calls from 256
//! threads sharing its session.

// Setting a watch is a call that resolves to the watch's own future, on purpose.
#![allow(clippy::async_yields_async)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use zk_tests::cpu::process_cpu;

const USAGE: &str = "\
usage: peer-bench [--pin] [--quick] [--repeat N] [--client NAME]... [--markdown FILE]
                  [--get-ops N] [--set-ops N] [--seq-ops N] [--watches N] [--depth N]
                  [--watch-gap-ms N]

  --pin          the server's JVM alone on the last CPU, the clients on the others
  --quick        small sizes and one repetition (a smoke test)
  --repeat N     interleaved repetitions; figures are medians (default 3)
  --client NAME  one of the clients (repeatable or comma-separated; default all):
                 zk-tokio-mt, zk-tokio-ct, zk-async-std, zk-smol, zk-blocking,
                 zookeeper-client-mt, zookeeper-client-ct, tokio-zookeeper-mt,
                 tokio-zookeeper-ct, zookeeper, raw
  --markdown F   also write the tables as markdown to F
  --watch-gap-ms N  fire the watches one at a time, N ms apart (sparse events: what a
                 client spends per event when events are rare); default 0, all at once

One client's run alone (for a profiler): peer-bench --child NAME --addr HOST:PORT --prepare
[--get-ops N] [--set-ops N] [--seq-ops N] [--watches 0] against a running server.";

/// The node read by getData: `DATA_LEN` bytes.
const GET_PATH: &str = "/peer-bench-get";
/// The node written by setData.
const SET_PATH: &str = "/peer-bench-set";
/// The parent of the watched nodes.
const WATCH_ROOT: &str = "/peer-bench-watch";
const DATA_LEN: usize = 1024;
/// What setData writes (borrowed by every client that can take borrowed data).
static PAYLOAD: [u8; DATA_LEN] = [0x5b; DATA_LEN];
/// How long a child may take in all before it is taken as hung.
const CHILD_LIMIT: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------------------------
// Clients

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Client {
    ZkTokioMt,
    ZkTokioCt,
    ZkAsyncStd,
    ZkSmol,
    ZkBlocking,
    KezhuwMt,
    KezhuwCt,
    TokioZkMt,
    TokioZkCt,
    Zookeeper,
    Raw,
}

impl Client {
    const ALL: [Client; 11] = [
        Client::ZkTokioMt,
        Client::ZkTokioCt,
        Client::ZkAsyncStd,
        Client::ZkSmol,
        Client::ZkBlocking,
        Client::KezhuwMt,
        Client::KezhuwCt,
        Client::TokioZkMt,
        Client::TokioZkCt,
        Client::Zookeeper,
        Client::Raw,
    ];

    fn name(self) -> &'static str {
        match self {
            Client::ZkTokioMt => "zk-tokio-mt",
            Client::ZkTokioCt => "zk-tokio-ct",
            Client::ZkAsyncStd => "zk-async-std",
            Client::ZkSmol => "zk-smol",
            Client::ZkBlocking => "zk-blocking",
            Client::KezhuwMt => "zookeeper-client-mt",
            Client::KezhuwCt => "zookeeper-client-ct",
            Client::TokioZkMt => "tokio-zookeeper-mt",
            Client::TokioZkCt => "tokio-zookeeper-ct",
            Client::Zookeeper => "zookeeper",
            Client::Raw => "raw",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Client::ZkTokioMt => "zk-tokio, multi-thread (spawned task)",
            Client::ZkTokioCt => "zk-tokio, current-thread",
            Client::ZkAsyncStd => "zk-async-std, async-std",
            Client::ZkSmol => "zk-async-std, smol",
            Client::ZkBlocking => "zk-blocking",
            Client::KezhuwMt => "zookeeper-client 0.11, multi-thread (spawned task)",
            Client::KezhuwCt => "zookeeper-client 0.11, current-thread",
            Client::TokioZkMt => "tokio-zookeeper 0.4, multi-thread (spawned task)",
            Client::TokioZkCt => "tokio-zookeeper 0.4, current-thread",
            Client::Zookeeper => "zookeeper 0.8 (blocking, 256 threads)",
            Client::Raw => "raw zk-proto client (the floor: pre-encoded frames, blocking socket)",
        }
    }

    fn parse(name: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.name() == name)
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring

#[derive(Debug, Clone, Copy)]
struct Plan {
    get_ops: usize,
    set_ops: usize,
    seq_ops: usize,
    watches: usize,
    depth: usize,
    /// Milliseconds between two watch firings (0: all fired at once, pipelined).
    watch_gap_ms: usize,
}

impl Plan {
    const FULL: Plan = Plan {
        get_ops: 100_000,
        set_ops: 20_000,
        seq_ops: 10_000,
        watches: 10_000,
        depth: 256,
        watch_gap_ms: 0,
    };
    const QUICK: Plan = Plan {
        get_ops: 5_000,
        set_ops: 2_000,
        seq_ops: 1_000,
        watches: 1_000,
        depth: 256,
        watch_gap_ms: 0,
    };

    /// Unmeasured operations before a measured phase.
    fn warm(n: usize) -> usize {
        (n / 10).max(500)
    }

    fn args(&self) -> Vec<String> {
        [
            ("--get-ops", self.get_ops),
            ("--set-ops", self.set_ops),
            ("--seq-ops", self.seq_ops),
            ("--watches", self.watches),
            ("--depth", self.depth),
            ("--watch-gap-ms", self.watch_gap_ms),
        ]
        .into_iter()
        .flat_map(|(flag, n)| [flag.to_owned(), n.to_string()])
        .collect()
    }
}

/// Wall and CPU time from a start.
struct Window {
    wall: Instant,
    cpu: Duration,
}

impl Window {
    fn start() -> Window {
        Window {
            cpu: process_cpu(),
            wall: Instant::now(),
        }
    }

    fn stop(self, ops: usize) -> Phase {
        Phase {
            ops,
            wall: self.wall.elapsed(),
            cpu: process_cpu() - self.cpu,
        }
    }
}

/// What one measured phase took.
#[derive(Debug, Clone, Copy)]
struct Phase {
    ops: usize,
    wall: Duration,
    cpu: Duration,
}

impl Phase {
    fn per_sec(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64()
    }

    fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.ops as f64
    }
}

/// Everything one client run measured.
#[derive(Debug, Clone)]
struct Results {
    get: Phase,
    set: Phase,
    seq: Phase,
    /// One-at-a-time latencies, sorted, in nanoseconds.
    latencies: Vec<u64>,
    watch: Phase,
}

/// The figures of one run, by column.
type Figures = BTreeMap<&'static str, f64>;

const COLUMNS: [(&str, &str); 10] = [
    ("get_per_s", "getData/s"),
    ("get_cpu_us", "CPU µs/getData"),
    ("set_per_s", "setData/s"),
    ("set_cpu_us", "CPU µs/setData"),
    ("seq_p50_us", "p50 µs"),
    ("seq_p99_us", "p99 µs"),
    ("seq_cpu_us", "CPU µs/call"),
    ("watch_per_s", "events/s"),
    ("watch_cpu_us", "CPU µs/event"),
    ("rss_mib", "peak RSS MiB"),
];

impl Results {
    fn figures(&self) -> Figures {
        let percentile = |p: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies.get(i).map_or(0.0, |ns| *ns as f64 / 1000.0)
        };
        BTreeMap::from([
            ("get_per_s", self.get.per_sec()),
            ("get_cpu_us", self.get.cpu_us()),
            ("set_per_s", self.set.per_sec()),
            ("set_cpu_us", self.set.cpu_us()),
            ("seq_p50_us", percentile(0.50)),
            ("seq_p99_us", percentile(0.99)),
            ("seq_cpu_us", self.seq.cpu_us()),
            ("watch_per_s", self.watch.per_sec()),
            ("watch_cpu_us", self.watch.cpu_us()),
            ("rss_mib", peak_rss_kib() as f64 / 1024.0),
        ])
    }
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn check_data(data: &[u8]) {
    assert_eq!(data.len(), DATA_LEN, "getData returned the wrong data");
}

fn watch_paths(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{WATCH_ROOT}/{i}")).collect()
}

/// Tells the parent the watches are set, so that it fires them.
fn armed() {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ARMED")
        .and_then(|()| out.flush())
        .expect("stdout");
}

// ---------------------------------------------------------------------------------------------
// The async clients: one generic run over the client's calls

/// Keeps `depth` calls in flight until `ops` completed (every call is polled, so a client that
/// sends on first poll pipelines too).
async fn pipelined<F, Fut>(ops: usize, depth: usize, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut in_flight = FuturesUnordered::new();
    let mut submitted = 0;
    while submitted < ops.min(depth) {
        in_flight.push(call());
        submitted += 1;
    }
    while in_flight.next().await.is_some() {
        if submitted < ops {
            in_flight.push(call());
            submitted += 1;
        }
    }
}

async fn one_at_a_time<F, Fut>(ops: usize, mut call: F, latencies: &mut Vec<u64>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..ops {
        let t = Instant::now();
        call().await;
        latencies.push(t.elapsed().as_nanos() as u64);
    }
}

/// Every phase of an async client, given its getData and setData calls and how it sets a watch
/// (`arm`: a call that resolves, once the watch is set, to a future of its event).
async fn async_run<G, GF, S, SF, A, AF, W>(plan: Plan, mut get: G, mut set: S, arm: A) -> Results
where
    G: FnMut() -> GF,
    GF: Future<Output = ()>,
    S: FnMut() -> SF,
    SF: Future<Output = ()>,
    A: Fn(String) -> AF,
    AF: Future<Output = W>,
    W: Future<Output = ()>,
{
    pipelined(Plan::warm(plan.get_ops), plan.depth, &mut get).await;
    let w = Window::start();
    pipelined(plan.get_ops, plan.depth, &mut get).await;
    let get_phase = w.stop(plan.get_ops);

    pipelined(Plan::warm(plan.set_ops), plan.depth, &mut set).await;
    let w = Window::start();
    pipelined(plan.set_ops, plan.depth, &mut set).await;
    let set_phase = w.stop(plan.set_ops);

    let mut latencies = Vec::with_capacity(plan.seq_ops);
    one_at_a_time(Plan::warm(plan.seq_ops), &mut get, &mut latencies).await;
    latencies.clear();
    let w = Window::start();
    one_at_a_time(plan.seq_ops, &mut get, &mut latencies).await;
    let seq = w.stop(plan.seq_ops);
    latencies.sort_unstable();

    // Set every watch (pipelined, unmeasured), then receive the events.
    let watches = FuturesUnordered::new();
    {
        let mut paths = watch_paths(plan.watches).into_iter();
        let mut arming = FuturesUnordered::new();
        for path in paths.by_ref().take(plan.depth) {
            arming.push(arm(path));
        }
        while let Some(watch) = arming.next().await {
            watches.push(watch);
            if let Some(path) = paths.next() {
                arming.push(arm(path));
            }
        }
    }
    armed();
    let w = Window::start();
    let fired = watches.count().await;
    let watch = w.stop(fired);
    assert_eq!(fired, plan.watches, "every watch fires");
    Results {
        get: get_phase,
        set: set_phase,
        seq,
        latencies,
        watch,
    }
}

/// This project's async clients (zk-tokio, zk-async-std): one type over their runtimes.
async fn zk_async<R: zk_client::adapter::Launch>(
    client: zk_client::Client<R>,
    plan: Plan,
) -> Results {
    let c = &client;
    let results = async_run(
        plan,
        || async move {
            let (data, _) = c.get_data(GET_PATH).await.expect("getData");
            check_data(&data);
        },
        || async move {
            c.set_data(SET_PATH, Bytes::from_static(&PAYLOAD), None)
                .await
                .expect("setData");
        },
        |path| async move {
            let (_, watch) = c.get_data_and_watch(&path).await.expect("getData + watch");
            async move {
                let event = watch.await;
                assert!(
                    matches!(&event, zk_client::WatchEvent::Node { .. }),
                    "{event:?}"
                );
            }
        },
    )
    .await;
    client.close().await;
    results
}

async fn kezhuw(addr: String, plan: Plan) -> Results {
    let client = zookeeper_client::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&addr)
        .await
        .expect("zookeeper-client: connect");
    let c = &client;
    async_run(
        plan,
        || async move {
            let (data, _) = c.get_data(GET_PATH).await.expect("getData");
            check_data(&data);
        },
        || async move {
            c.set_data(SET_PATH, &PAYLOAD, None).await.expect("setData");
        },
        |path| async move {
            let (_, _, watcher) = c.get_and_watch_data(&path).await.expect("getData + watch");
            async move {
                let event = watcher.changed().await;
                assert_eq!(
                    event.event_type,
                    zookeeper_client::EventType::NodeDataChanged
                );
            }
        },
    )
    .await
}

async fn tokio_zookeeper(addr: String, plan: Plan) -> Results {
    let addr = addr.parse().expect("a socket address");
    let mut builder = tokio_zookeeper::ZooKeeperBuilder::default();
    builder.set_timeout(Duration::from_secs(10));
    // Every watch event also goes to the default stream, unbounded: dropped, so that those
    // sends fail rather than pile up.
    let (client, default_watcher) = builder
        .connect(&addr)
        .await
        .expect("tokio-zookeeper: connect");
    drop(default_watcher);
    let c = &client;
    async_run(
        plan,
        || async move {
            let (data, _) = c
                .get_data(GET_PATH)
                .await
                .expect("getData")
                .expect("the node exists");
            check_data(&data);
        },
        || async move {
            c.set_data(SET_PATH, None, &PAYLOAD[..])
                .await
                .expect("setData")
                .expect("setData's result");
        },
        |path| async move {
            let (event, _, _) = c
                .with_watcher()
                .get_data(&path)
                .await
                .expect("getData + watch")
                .expect("the node exists");
            async move {
                let event = event.await.expect("the watch fires");
                assert_eq!(
                    event.event_type,
                    tokio_zookeeper::WatchedEventType::NodeDataChanged
                );
            }
        },
    )
    .await
}

/// Runs `bench` on tokio: from a task spawned on a 2-worker multi-thread runtime (as
/// application code calls a client), or on a current-thread runtime.
fn on_tokio<F>(multi_thread: bool, bench: F) -> Results
where
    F: Future<Output = Results> + Send + 'static,
{
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("a tokio runtime");
    if multi_thread {
        runtime.block_on(async { tokio::spawn(bench).await.expect("the benchmark task") })
    } else {
        runtime.block_on(bench)
    }
}

// ---------------------------------------------------------------------------------------------
// The blocking clients

/// Runs `phase` after a warm-up and measures it.
fn measured(warm: usize, ops: usize, mut phase: impl FnMut(usize)) -> Phase {
    phase(warm);
    let w = Window::start();
    phase(ops);
    w.stop(ops)
}

fn zk_blocking(addr: &str, plan: Plan) -> Results {
    use zk_blocking::ops::{GetData, SetData};
    let client = zk_blocking::Client::connect(addr).expect("zk-blocking: connect");
    // Keeps `depth` calls in flight from this one thread: submitted without waiting, then the
    // oldest waited for and one more submitted.
    fn submitted<O: zk_client::session::Operation>(
        ops: usize,
        depth: usize,
        mut submit: impl FnMut() -> zk_blocking::Submitted<O>,
    ) where
        O::Error: std::fmt::Debug,
    {
        let mut window = std::collections::VecDeque::with_capacity(depth);
        let mut count = 0;
        while count < ops.min(depth) {
            window.push_back(submit());
            count += 1;
        }
        while let Some(call) = window.pop_front() {
            call.wait(None).expect("a pipelined call");
            if count < ops {
                window.push_back(submit());
                count += 1;
            }
        }
    }
    let get = measured(Plan::warm(plan.get_ops), plan.get_ops, |ops| {
        submitted(ops, plan.depth, || client.submit(GetData::new(GET_PATH)));
    });
    let set = measured(Plan::warm(plan.set_ops), plan.set_ops, |ops| {
        submitted(ops, plan.depth, || {
            client.submit(SetData::new(SET_PATH, Bytes::from_static(&PAYLOAD)))
        });
    });
    let mut latencies = Vec::with_capacity(plan.seq_ops);
    let seq = measured(Plan::warm(plan.seq_ops), plan.seq_ops, |ops| {
        latencies.clear();
        for _ in 0..ops {
            let t = Instant::now();
            let (data, _) = client.get_data(GET_PATH).expect("getData");
            latencies.push(t.elapsed().as_nanos() as u64);
            check_data(&data);
        }
    });
    latencies.sort_unstable();
    let watches: Vec<zk_blocking::Watch> = watch_paths(plan.watches)
        .iter()
        .map(|path| client.get_data_and_watch(path).expect("getData + watch").1)
        .collect();
    armed();
    let w = Window::start();
    for watch in &watches {
        let event = watch.wait(Some(CHILD_LIMIT)).expect("the watch fires");
        assert!(
            matches!(&event, zk_blocking::WatchEvent::Node { .. }),
            "{event:?}"
        );
    }
    let watch = w.stop(watches.len());
    client.close();
    Results {
        get,
        set,
        seq,
        latencies,
        watch,
    }
}

fn zookeeper_08(addr: &str, plan: Plan) -> Results {
    use zookeeper::{WatchedEvent, WatchedEventType, ZkState, ZooKeeper};
    let (connected_tx, connected_rx) = mpsc::channel();
    let client = ZooKeeper::connect(addr, Duration::from_secs(10), |_: WatchedEvent| {})
        .expect("zookeeper: connect");
    let connected_tx = std::sync::Mutex::new(connected_tx);
    client.add_listener(move |state| {
        if state == ZkState::Connected {
            let _ = connected_tx.lock().map(|tx| tx.send(()));
        }
    });
    // `connect` returns before the session is up: wait for it (or see it is up already).
    if client.exists("/", false).is_err() {
        connected_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("zookeeper: connected");
    }
    let client = Arc::new(client);
    // Its only way to have requests in flight: `depth` threads making blocking calls on the
    // one session.
    let threaded = |ops: usize, call: fn(&ZooKeeper)| {
        let left = Arc::new(AtomicUsize::new(ops));
        let threads: Vec<_> = (0..plan.depth)
            .map(|_| {
                let (client, left) = (client.clone(), left.clone());
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        while left
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                                n.checked_sub(1)
                            })
                            .is_ok()
                        {
                            call(&client);
                        }
                    })
                    .expect("a thread")
            })
            .collect();
        for thread in threads {
            thread.join().expect("a benchmark thread");
        }
    };
    let get_call: fn(&ZooKeeper) = |client| {
        let (data, _) = client.get_data(GET_PATH, false).expect("getData");
        check_data(&data);
    };
    let set_call: fn(&ZooKeeper) = |client| {
        client
            .set_data(SET_PATH, PAYLOAD.to_vec(), None)
            .expect("setData");
    };
    let get = measured(Plan::warm(plan.get_ops), plan.get_ops, |ops| {
        threaded(ops, get_call)
    });
    let set = measured(Plan::warm(plan.set_ops), plan.set_ops, |ops| {
        threaded(ops, set_call)
    });
    let mut latencies = Vec::with_capacity(plan.seq_ops);
    let seq = measured(Plan::warm(plan.seq_ops), plan.seq_ops, |ops| {
        latencies.clear();
        for _ in 0..ops {
            let t = Instant::now();
            get_call(&client);
            latencies.push(t.elapsed().as_nanos() as u64);
        }
    });
    latencies.sort_unstable();
    let (fired_tx, fired_rx) = mpsc::channel();
    for path in watch_paths(plan.watches) {
        let fired_tx = std::sync::Mutex::new(fired_tx.clone());
        client
            .get_data_w(&path, move |event: WatchedEvent| {
                assert_eq!(event.event_type, WatchedEventType::NodeDataChanged);
                let _ = fired_tx.lock().map(|tx| tx.send(()));
            })
            .expect("getData + watch");
    }
    armed();
    let w = Window::start();
    for _ in 0..plan.watches {
        fired_rx.recv_timeout(CHILD_LIMIT).expect("the watch fires");
    }
    let watch = w.stop(plan.watches);
    let _ = client.close();
    Results {
        get,
        set,
        seq,
        latencies,
        watch,
    }
}

/// The floor: zk-bench's raw client (`zk_tests::raw`), which sends pre-encoded frames and
/// reads only each reply's length, xid and error code, on a blocking socket. Its pipelined
/// phases run whole laps of its ring of `depth` xids, so their counts are rounded up to a
/// multiple of `depth`.
fn raw(addr: &str, plan: Plan) -> Results {
    use std::net::ToSocketAddrs;
    use zk_proto::{GetDataRequest, Request, SetDataRequest};
    use zk_tests::raw::{FrameRing, RawClient};
    let addr = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .expect("raw: the server's address");
    let laps = |n: usize| n.div_ceil(plan.depth) * plan.depth;
    let get_request = Request::GetData(GetDataRequest {
        path: GET_PATH.into(),
        watch: false,
    });
    let set_request = Request::SetData(SetDataRequest {
        path: SET_PATH.into(),
        data: Some(Bytes::from_static(&PAYLOAD)),
        version: -1,
    });
    let mut client = RawClient::connect(addr);
    let mut ring = FrameRing::new(plan.depth, &get_request);
    let get = measured(laps(Plan::warm(plan.get_ops)), laps(plan.get_ops), |ops| {
        client.pipelined(&mut ring, ops)
    });
    let mut ring = FrameRing::new(plan.depth, &set_request);
    let set = measured(laps(Plan::warm(plan.set_ops)), laps(plan.set_ops), |ops| {
        client.pipelined(&mut ring, ops)
    });
    let mut ring = FrameRing::new(plan.depth, &get_request);
    let mut latencies = Vec::with_capacity(plan.seq_ops);
    let seq = measured(Plan::warm(plan.seq_ops), plan.seq_ops, |ops| {
        latencies.clear();
        client.one_at_a_time(&mut ring, ops, &mut latencies);
    });
    latencies.sort_unstable();
    client.watch_data(&watch_paths(plan.watches), plan.depth);
    armed();
    let w = Window::start();
    client.wait_notifications(plan.watches);
    let watch = w.stop(plan.watches);
    client.close();
    Results {
        get,
        set,
        seq,
        latencies,
        watch,
    }
}

/// The child: one client's run, its figures on standard output.
fn child(client: Client, addr: &str, plan: Plan) {
    let addr = addr.to_owned();
    let results = match client {
        Client::ZkTokioMt | Client::ZkTokioCt => {
            let multi_thread = client == Client::ZkTokioMt;
            on_tokio(multi_thread, async move {
                let zk = zk_tokio::Client::connect(&addr)
                    .await
                    .expect("zk-tokio: connect");
                zk_async(zk, plan).await
            })
        }
        Client::ZkAsyncStd => async_std::task::block_on(async {
            let zk = zk_async_std::Client::connect(&addr)
                .await
                .expect("zk-async-std: connect");
            zk_async(zk, plan).await
        }),
        Client::ZkSmol => smol::block_on(async {
            let zk = zk_async_std::Client::connect(&addr)
                .await
                .expect("zk-async-std: connect");
            zk_async(zk, plan).await
        }),
        Client::ZkBlocking => zk_blocking(&addr, plan),
        Client::KezhuwMt => on_tokio(true, kezhuw(addr, plan)),
        Client::KezhuwCt => on_tokio(false, kezhuw(addr, plan)),
        Client::TokioZkMt => on_tokio(true, tokio_zookeeper(addr, plan)),
        Client::TokioZkCt => on_tokio(false, tokio_zookeeper(addr, plan)),
        Client::Zookeeper => zookeeper_08(&addr, plan),
        Client::Raw => raw(&addr, plan),
    };
    let line: Vec<String> = results
        .figures()
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    println!("RESULT {}", line.join(" "));
}

// ---------------------------------------------------------------------------------------------
// The parent

struct Args {
    pin: bool,
    repeat: usize,
    clients: Vec<Client>,
    markdown: Option<String>,
    plan: Plan,
    child: Option<(Client, String)>,
    /// The child creates the nodes first (when run alone).
    prepare: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        pin: false,
        repeat: 3,
        clients: Vec::new(),
        markdown: None,
        plan: Plan::FULL,
        child: None,
        prepare: false,
    };
    let mut child_client = None;
    let mut addr = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let mut number = |name: &str| -> Result<usize, String> {
            value(name)?.parse().map_err(|e| format!("{name}: {e}"))
        };
        match arg.as_str() {
            "--pin" => args.pin = true,
            "--quick" => {
                args.plan = Plan::QUICK;
                args.repeat = 1;
            }
            "--repeat" => args.repeat = number("--repeat")?.max(1),
            "--get-ops" => args.plan.get_ops = number("--get-ops")?,
            "--set-ops" => args.plan.set_ops = number("--set-ops")?,
            "--seq-ops" => args.plan.seq_ops = number("--seq-ops")?,
            "--watches" => args.plan.watches = number("--watches")?,
            "--depth" => args.plan.depth = number("--depth")?.max(1),
            "--watch-gap-ms" => args.plan.watch_gap_ms = number("--watch-gap-ms")?,
            "--markdown" => args.markdown = Some(value("--markdown")?),
            "--client" => {
                for name in value("--client")?.split(',') {
                    args.clients
                        .push(Client::parse(name).ok_or(format!("unknown client {name}"))?);
                }
            }
            "--child" => {
                let name = value("--child")?;
                child_client = Some(Client::parse(&name).ok_or(format!("unknown client {name}"))?);
            }
            "--addr" => addr = Some(value("--addr")?),
            "--prepare" => args.prepare = true,
            "--help" | "-h" => return Err(USAGE.to_owned()),
            // `cargo bench`-style extra arguments are not ours.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if let Some(client) = child_client {
        args.child = Some((client, addr.ok_or("--child needs --addr")?));
    }
    if args.clients.is_empty() {
        args.clients = Client::ALL.to_vec();
    }
    args.clients.sort();
    args.clients.dedup();
    Ok(args)
}

/// Creates the nodes the workloads use (or gives them their data again).
fn prepare_nodes(setup: &zk_blocking::Client, watches: usize) {
    use zk_blocking::ops::CreateError;
    let mut paths = vec![
        GET_PATH.to_owned(),
        SET_PATH.to_owned(),
        WATCH_ROOT.to_owned(),
    ];
    paths.extend(watch_paths(watches));
    for path in paths {
        match setup.create(
            &path,
            vec![0x5a; DATA_LEN],
            zk_blocking::CreateMode::Persistent,
        ) {
            Ok(_) => {}
            Err(e) if *e.kind() == CreateError::NodeExists => {}
            Err(e) => panic!("set-up: create {path}: {e}"),
        }
    }
    setup
        .set_data(GET_PATH, vec![0x5a; DATA_LEN], None)
        .expect("set-up: setData");
}

/// Fires every watch: sets each watched node from the parent's own session, pipelined, or one
/// at a time `plan.watch_gap_ms` apart.
fn fire_watches(setup: &zk_blocking::Client, plan: Plan) {
    use zk_blocking::ops::SetData;
    let (watches, depth) = (plan.watches, plan.depth);
    if plan.watch_gap_ms > 0 {
        for path in watch_paths(watches) {
            std::thread::sleep(Duration::from_millis(plan.watch_gap_ms as u64));
            setup
                .set_data(&path, &b"fired"[..], None)
                .expect("firing a watch");
        }
        return;
    }
    let mut window = std::collections::VecDeque::with_capacity(depth);
    for path in watch_paths(watches) {
        if window.len() == depth {
            let call: zk_blocking::Submitted<SetData> = window.pop_front().expect("a call");
            call.wait(None).expect("firing a watch");
        }
        window.push_back(setup.submit(SetData::new(path, Bytes::from_static(b"fired"))));
    }
    for call in window {
        call.wait(None).expect("firing a watch");
    }
}

/// Runs one client in its own process; its figures.
fn run_child(
    client: Client,
    addr: &str,
    plan: Plan,
    setup: &zk_blocking::Client,
) -> Result<Figures, String> {
    let exe = std::env::current_exe().map_err(|e| format!("this binary: {e}"))?;
    let mut process: Child = Command::new(exe)
        .args(["--child", client.name(), "--addr", addr])
        .args(plan.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", client.name()))?;
    let stdout = process.stdout.take().ok_or("no stdout")?;
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + CHILD_LIMIT;
    let mut figures = None;
    while figures.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) if line == "ARMED" => fire_watches(setup, plan),
            Ok(line) => {
                if let Some(rest) = line.strip_prefix("RESULT ") {
                    figures = Some(parse_figures(rest)?);
                }
            }
            Err(_) => {
                let _ = process.kill();
                let _ = process.wait();
                return Err(format!("{} gave no result", client.name()));
            }
        }
    }
    let status = process.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{} exited with {status}", client.name()));
    }
    figures.ok_or_else(|| format!("{} gave no result", client.name()))
}

fn parse_figures(line: &str) -> Result<Figures, String> {
    let mut figures = Figures::new();
    for pair in line.split_whitespace() {
        let (key, value) = pair.split_once('=').ok_or(format!("bad figure {pair}"))?;
        let key = COLUMNS
            .iter()
            .map(|(key, _)| *key)
            .find(|k| *k == key)
            .ok_or(format!("unknown figure {key}"))?;
        figures.insert(key, value.parse().map_err(|e| format!("{pair}: {e}"))?);
    }
    Ok(figures)
}

/// `median (min-max)`.
fn cell(values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let digits = |x: f64| {
        if x >= 100.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.1}")
        }
    };
    if sorted.len() == 1 {
        digits(median)
    } else {
        format!(
            "{} ({}-{})",
            digits(median),
            digits(sorted[0]),
            digits(sorted[sorted.len() - 1])
        )
    }
}

/// The markdown tables: throughput and CPU, latency, watches and memory.
fn tables(results: &BTreeMap<Client, Vec<Figures>>) -> String {
    let groups: [(&str, &[&str]); 3] = [
        (
            "Pipelined, 256 in flight (1 KiB)",
            &["get_per_s", "get_cpu_us", "set_per_s", "set_cpu_us"],
        ),
        (
            "One getData at a time (1 KiB)",
            &["seq_p50_us", "seq_p99_us", "seq_cpu_us"],
        ),
        (
            "Watch delivery (one-shot data watches fired by another session), memory",
            &["watch_per_s", "watch_cpu_us", "rss_mib"],
        ),
    ];
    let mut out = String::new();
    for (title, keys) in groups {
        out.push_str(&format!("\n{title}:\n\n| client |"));
        for key in keys {
            let head = COLUMNS
                .iter()
                .find(|(k, _)| k == key)
                .map_or("", |(_, h)| *h);
            out.push_str(&format!(" {head} |"));
        }
        out.push_str("\n|---|");
        out.push_str(&"--:|".repeat(keys.len()));
        out.push('\n');
        for (client, runs) in results {
            out.push_str(&format!("| {} |", client.label()));
            for key in keys {
                let values: Vec<f64> = runs.iter().filter_map(|f| f.get(key).copied()).collect();
                out.push_str(&format!(" {} |", cell(&values)));
            }
            out.push('\n');
        }
    }
    out
}

fn run(args: Args) -> Result<(), String> {
    eprintln!("peer-bench: starting a standalone ZooKeeper");
    let options = zk_tests::ServerOptions {
        full_jit: true,
        ..zk_tests::ServerOptions::default()
    };
    // Counted before any pinning narrows this process's CPUs.
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let server = zk_tests::Server::standalone(&options).map_err(|e| e.to_string())?;
    let addr = server.client_addr().to_string();
    let mut configuration = "shared: the server and the clients on every CPU".to_owned();
    if args.pin {
        let pid = server.pid().ok_or("no server process to pin")?;
        let (client_cpus, server_cpu) = zk_tests::pinning::pin(pid)?;
        configuration =
            format!("pinned: the server on CPU {server_cpu}, the clients on {client_cpus}");
    }
    let setup = zk_blocking::Client::connect(&addr).map_err(|e| format!("set-up client: {e}"))?;
    prepare_nodes(&setup, args.plan.watches);
    eprintln!("peer-bench: {configuration}; warming the server up");
    run_child(Client::ZkBlocking, &addr, args.plan, &setup)?;

    let mut results: BTreeMap<Client, Vec<Figures>> = BTreeMap::new();
    for round in 0..args.repeat {
        let mut order = args.clients.clone();
        let shift = round % order.len();
        order.rotate_left(shift);
        for client in order {
            eprintln!(
                "peer-bench: round {}/{}: {}",
                round + 1,
                args.repeat,
                client.name()
            );
            let figures = run_child(client, &addr, args.plan, &setup)?;
            results.entry(client).or_default().push(figures);
        }
    }
    setup.close();
    let header = format!(
        "peer-bench: {} repetitions, {configuration}; a {cpus}-CPU machine; medians (range). \
         {} getData and {} setData pipelined, {} one at a time, {} watches per run.",
        args.repeat, args.plan.get_ops, args.plan.set_ops, args.plan.seq_ops, args.plan.watches
    );
    let header = match args.plan.watch_gap_ms {
        0 => header,
        gap => format!("{header} The watches fired {gap} ms apart."),
    };
    let text = format!("{header}\n{}", tables(&results));
    println!("{text}");
    if let Some(path) = args.markdown {
        std::fs::write(&path, &text).map_err(|e| format!("writing {path}: {e}"))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some((client, addr)) = &args.child {
        if args.prepare {
            match zk_blocking::Client::connect(addr) {
                Ok(setup) => {
                    prepare_nodes(&setup, args.plan.watches);
                    setup.close();
                }
                Err(e) => {
                    eprintln!("peer-bench: set-up client: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        child(*client, addr, args.plan);
        return ExitCode::SUCCESS;
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
