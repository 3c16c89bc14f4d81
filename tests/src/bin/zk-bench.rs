//! Benchmarks the clients against a local standalone ZooKeeper that it starts itself.
//!
//! ```text
//! cargo run --release -p zk-tests --bin zk-bench -- [--quick] [--adapter NAME]...
//!     [--repeat N] [--markdown FILE] [--connect HOST:PORT]
//! ```
//!
//! For each client (zk-tokio on a current-thread and on a multi-thread runtime, zk-async-std
//! under async-std and under smol, zk-blocking pipelining with `Client::submit` on one thread
//! and with a thread per call in flight) and for a minimal raw client written with
//! zk-proto on a blocking `std::net::TcpStream` (and the same raw client on tokio, the least
//! any tokio client can do), it measures:
//!
//! 1. pipelined throughput with 256 requests in flight on one session: 1 KiB getData and 1 KiB
//!    setData;
//! 2. latency percentiles with one request at a time (1 KiB getData);
//! 3. client CPU time per operation: the process's CPU clock (`CLOCK_PROCESS_CPUTIME_ID`, every
//!    thread, user and system, nanosecond resolution) over the measured operations. The server
//!    is a separate JVM process, so this is the client's CPU alone; `/proc/self/stat`
//!    (utime and stime in clock ticks) is read too, for the user/system split.
//!
//! The raw client sends pre-encoded frames and reads only each reply's length prefix, xid and
//! error code: no client can do less per request, so its throughput is the bound every client's
//! is reported against.
//!
//! Runs are interleaved (every client once per repetition, in turn) so that load from other
//! processes spreads over all of them; each figure is the median over the repetitions.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_proto::{GetDataRequest, Request, SetDataRequest};
use zk_tests::cpu::{proc_stat_ticks, process_cpu, USER_HZ};
use zk_tests::raw::{check_handshake, close_frame, connect_frame, FrameRing, Inbox, RawClient};
use zk_tests::{Server, ServerOptions};

const USAGE: &str = "\
usage: zk-bench [--quick] [--adapter NAME]... [--repeat N] [--markdown FILE]
                [--connect HOST:PORT] [--ops N] [--set-ops N] [--latency-ops N]
                [--depth N] [--blocking-threads N] [--warm-secs S] [--pin]

  --quick             fewer operations and one repetition (about a minute)
  --adapter NAME      raw, raw-tokio, tokio, tokio-mt, async-std, smol, blocking,
                      blocking-threads, or all (default);
                      repeatable or comma-separated; raw always runs (it is the reference)
  --repeat N          repetitions, interleaved; figures are medians (default 3, quick 1)
  --markdown FILE     also write the results as markdown to FILE
  --connect H:P       use a running server instead of starting one
  --ops N             pipelined getData operations per run (default 200000)
  --set-ops N         pipelined setData operations per run (default 40000)
  --latency-ops N     one-at-a-time getData operations per run (default 20000)
  --depth N           requests in flight when pipelining (default 256)
  --blocking-threads N  threads of the blocking-threads client (default: depth)
  --no-raw            skip the raw reference client (for profiling one client)
  --raw-extra-cpu NS  the raw client burns NS ns of CPU per pipelined reply (what client
                      CPU alone does to throughput when the server shares the CPUs)
  --warm-secs S       seconds of raw load to warm the server's JIT first (default 8, quick 3)
  --pin               run the server's JVM on the last CPU and the clients on the others,
                      so that they do not compete for CPU (needs 2 CPUs and `taskset`)";

/// The node read by getData; it holds `DATA_LEN` bytes.
const GET_PATH: &str = "/zk-bench-get";
/// The node written by setData.
const SET_PATH: &str = "/zk-bench-set";
const DATA_LEN: usize = 1024;

// ---------------------------------------------------------------------------------------------
// Command line

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adapter {
    Raw,
    /// The raw client on tokio.
    RawTokio,
    Tokio,
    TokioMt,
    AsyncStd,
    Smol,
    Blocking,
    /// zk-blocking pipelining with one thread per request in flight.
    BlockingThreads,
}

impl Adapter {
    const ALL: [Adapter; 8] = [
        Adapter::Raw,
        Adapter::RawTokio,
        Adapter::Tokio,
        Adapter::TokioMt,
        Adapter::AsyncStd,
        Adapter::Smol,
        Adapter::Blocking,
        Adapter::BlockingThreads,
    ];

    fn parse(name: &str) -> Option<Vec<Adapter>> {
        Some(match name {
            "all" => Adapter::ALL.to_vec(),
            "raw" => vec![Adapter::Raw],
            "raw-tokio" => vec![Adapter::RawTokio],
            "tokio" => vec![Adapter::Tokio],
            "tokio-mt" => vec![Adapter::TokioMt],
            "async-std" => vec![Adapter::AsyncStd],
            "smol" => vec![Adapter::Smol],
            "blocking" => vec![Adapter::Blocking],
            "blocking-threads" => vec![Adapter::BlockingThreads],
            _ => return None,
        })
    }

    fn label(self) -> &'static str {
        match self {
            Adapter::Raw => "raw (zk-proto, std TcpStream)",
            Adapter::RawTokio => "raw on tokio (one task, current-thread rt)",
            Adapter::Tokio => "zk-tokio (current-thread rt)",
            Adapter::TokioMt => "zk-tokio (multi-thread rt, 2 workers)",
            Adapter::AsyncStd => "zk-async-std under async-std",
            Adapter::Smol => "zk-async-std under smol",
            Adapter::Blocking => "zk-blocking",
            Adapter::BlockingThreads => "zk-blocking (a thread per call in flight)",
        }
    }
}

#[derive(Debug, Clone)]
struct Args {
    adapters: Vec<Adapter>,
    repeat: usize,
    markdown: Option<String>,
    connect: Option<String>,
    get_ops: usize,
    set_ops: usize,
    latency_ops: usize,
    depth: usize,
    blocking_threads: Option<usize>,
    quick: bool,
    no_raw: bool,
    pin: bool,
    raw_extra_cpu_ns: u64,
    warm_secs: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let quick = argv.iter().any(|a| a == "--quick");
    let mut args = Args {
        adapters: Vec::new(),
        repeat: if quick { 1 } else { 3 },
        markdown: None,
        connect: None,
        get_ops: if quick { 50_000 } else { 200_000 },
        set_ops: if quick { 10_000 } else { 40_000 },
        latency_ops: if quick { 5_000 } else { 20_000 },
        depth: 256,
        blocking_threads: None,
        quick,
        no_raw: false,
        pin: false,
        raw_extra_cpu_ns: 0,
        warm_secs: None,
    };
    let mut iter = argv.into_iter();
    let number = |iter: &mut std::vec::IntoIter<String>, what: &str| -> Result<usize, String> {
        iter.next()
            .and_then(|n| n.replace('_', "").parse().ok())
            .filter(|&n: &usize| n > 0)
            .ok_or_else(|| format!("{what} needs a positive number"))
    };
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--quick" => {}
            "--no-raw" => args.no_raw = true,
            "--pin" => args.pin = true,
            "--raw-extra-cpu" => {
                args.raw_extra_cpu_ns = number(&mut iter, "--raw-extra-cpu")? as u64
            }
            "--warm-secs" => {
                let secs = iter.next().and_then(|s| s.parse::<f64>().ok());
                args.warm_secs = Some(
                    secs.filter(|s| *s >= 0.0)
                        .ok_or("--warm-secs needs seconds")?,
                )
            }
            // `cargo bench` passes this; harmless.
            "--bench" => {}
            "--adapter" | "-a" => {
                let names = iter.next().ok_or("--adapter needs a name")?;
                for name in names.split(',') {
                    let more = Adapter::parse(name.trim())
                        .ok_or_else(|| format!("unknown adapter {name:?}\n{USAGE}"))?;
                    args.adapters.extend(more);
                }
            }
            "--repeat" => args.repeat = number(&mut iter, "--repeat")?,
            "--markdown" => args.markdown = Some(iter.next().ok_or("--markdown needs a file")?),
            "--connect" => args.connect = Some(iter.next().ok_or("--connect needs HOST:PORT")?),
            "--ops" => args.get_ops = number(&mut iter, "--ops")?,
            "--set-ops" => args.set_ops = number(&mut iter, "--set-ops")?,
            "--latency-ops" => args.latency_ops = number(&mut iter, "--latency-ops")?,
            "--depth" => args.depth = number(&mut iter, "--depth")?,
            "--blocking-threads" => {
                args.blocking_threads = Some(number(&mut iter, "--blocking-threads")?)
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.pin && args.connect.is_some() {
        return Err("--pin pins the server the benchmark starts: it excludes --connect".into());
    }
    if args.adapters.is_empty() {
        args.adapters = Adapter::ALL.to_vec();
    }
    // The raw client is the reference for every ratio: measured first unless told not to.
    args.adapters.retain(|&a| a != Adapter::Raw);
    args.adapters.dedup();
    if !args.no_raw {
        args.adapters.insert(0, Adapter::Raw);
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// CPU time

/// A measurement window: wall time and CPU time.
struct Window {
    wall: Instant,
    cpu: Duration,
    ticks: (u64, u64),
}

impl Window {
    fn start() -> Window {
        Window {
            ticks: proc_stat_ticks(),
            cpu: process_cpu(),
            wall: Instant::now(),
        }
    }

    fn stop(self, ops: usize) -> Measured {
        let wall = self.wall.elapsed();
        let cpu = process_cpu() - self.cpu;
        let ticks = proc_stat_ticks();
        Measured {
            ops,
            wall,
            cpu,
            user_ticks: ticks.0 - self.ticks.0,
            sys_ticks: ticks.1 - self.ticks.1,
        }
    }
}

/// What one measured phase took.
#[derive(Debug, Clone, Copy)]
struct Measured {
    ops: usize,
    wall: Duration,
    cpu: Duration,
    user_ticks: u64,
    sys_ticks: u64,
}

impl Measured {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64()
    }

    /// CPU per operation in microseconds.
    fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.ops as f64
    }

    /// Share of the CPU time spent in the kernel (from the tick counts).
    fn sys_share(&self) -> f64 {
        let total = self.user_ticks + self.sys_ticks;
        if total == 0 {
            0.0
        } else {
            self.sys_ticks as f64 / total as f64
        }
    }
}

/// One client's results in one repetition.
#[derive(Debug, Clone)]
struct RunResult {
    get: Measured,
    set: Measured,
    seq: Measured,
    /// One-at-a-time latencies, sorted, in nanoseconds.
    latencies: Vec<u64>,
}

impl RunResult {
    /// The three phases' measurements and the latencies (any order) of one run.
    fn new(get: Measured, set: Measured, seq: Measured, mut latencies: Vec<u64>) -> RunResult {
        latencies.sort_unstable();
        RunResult {
            get,
            set,
            seq,
            latencies,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Workload sizes

#[derive(Debug, Clone, Copy)]
struct Plan {
    get_ops: usize,
    set_ops: usize,
    latency_ops: usize,
    depth: usize,
    blocking_threads: usize,
    raw_extra_cpu: Duration,
}

impl Plan {
    fn warm(n: usize) -> usize {
        (n / 10).max(1000)
    }
}

fn check_data(data: &[u8]) {
    assert_eq!(data.len(), DATA_LEN, "getData returned the wrong data");
}

fn set_payload() -> Bytes {
    Bytes::from(vec![0xa5; DATA_LEN])
}

// ---------------------------------------------------------------------------------------------
// The raw client (zk_tests::raw), measured

/// A warm-up, then `ops` pipelined requests of the raw client measured.
fn measure_raw_pipelined(raw: &mut RawClient, ring: &mut FrameRing, ops: usize) -> Measured {
    raw.pipelined(ring, round_up(Plan::warm(ops), ring.depth()));
    let ops = round_up(ops, ring.depth());
    let w = Window::start();
    raw.pipelined(ring, ops);
    w.stop(ops)
}

/// The raw client again, on a tokio `TcpStream` in one task of a current-thread runtime: the
/// least any tokio client can do per request, to tell tokio's share of a client's cost from
/// the client's own.
struct RawTokio {
    stream: tokio::net::TcpStream,
    inbox: Inbox,
}

impl RawTokio {
    async fn connect(addr: SocketAddr) -> RawTokio {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("raw client: connect");
        stream.set_nodelay(true).expect("raw client: nodelay");
        stream
            .write_all(&connect_frame())
            .await
            .expect("raw client: handshake");
        let mut raw = RawTokio {
            stream,
            inbox: Inbox::new(),
        };
        let frame = loop {
            if let Some(frame) = raw.inbox.take_frame() {
                break frame;
            }
            raw.fill().await;
        };
        check_handshake(frame);
        raw
    }

    async fn fill(&mut self) {
        use tokio::io::AsyncReadExt;
        let n = self
            .stream
            .read(self.inbox.spare())
            .await
            .expect("raw client: read");
        self.inbox.filled(n);
    }

    async fn pipelined(&mut self, ring: &mut FrameRing, ops: usize) {
        use tokio::io::AsyncWriteExt;
        let depth = ring.depth();
        let mut expected = 1;
        let first = depth.min(ops);
        self.stream
            .write_all(ring.take(first))
            .await
            .expect("write");
        let mut sent = first;
        let mut done = 0;
        while done < ops {
            self.fill().await;
            let k = self.inbox.take_replies(&mut expected, depth as i32);
            done += k;
            let more = k.min(ops - sent);
            if more > 0 {
                self.stream.write_all(ring.take(more)).await.expect("write");
                sent += more;
            }
        }
        assert!(ring.at_start(), "ring and replies out of step");
    }

    /// A warm-up, then `ops` pipelined requests measured.
    async fn measure_pipelined(&mut self, ring: &mut FrameRing, ops: usize) -> Measured {
        self.pipelined(ring, round_up(Plan::warm(ops), ring.depth()))
            .await;
        let ops = round_up(ops, ring.depth());
        let w = Window::start();
        self.pipelined(ring, ops).await;
        w.stop(ops)
    }

    async fn one_at_a_time(&mut self, ring: &mut FrameRing, ops: usize, latencies: &mut Vec<u64>) {
        use tokio::io::AsyncWriteExt;
        let mut expected = ring.next_xid();
        for _ in 0..ops {
            let t = Instant::now();
            self.stream.write_all(ring.take(1)).await.expect("write");
            loop {
                if self.inbox.take_replies(&mut expected, ring.depth() as i32) == 1 {
                    break;
                }
                self.fill().await;
            }
            latencies.push(t.elapsed().as_nanos() as u64);
        }
    }

    async fn close(mut self) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = self.stream.write_all(&close_frame()).await;
        let read = self.stream.read(self.inbox.spare());
        let _ = tokio::time::timeout(Duration::from_millis(500), read).await;
    }
}

/// The benchmark's getData request, and rings of `depth` pre-encoded getData and setData frames.
fn rings(depth: usize) -> (Request, FrameRing, FrameRing) {
    let get = Request::GetData(GetDataRequest {
        path: GET_PATH.into(),
        watch: false,
    });
    let set = Request::SetData(SetDataRequest {
        path: SET_PATH.into(),
        data: Some(set_payload()),
        version: -1,
    });
    let (get_ring, set_ring) = (FrameRing::new(depth, &get), FrameRing::new(depth, &set));
    (get, get_ring, set_ring)
}

fn run_raw(addr: SocketAddr, plan: &Plan) -> RunResult {
    let (get, mut get_ring, mut set_ring) = rings(plan.depth);

    let mut raw = RawClient::connect(addr);
    raw.extra_cpu = plan.raw_extra_cpu;
    let get_m = measure_raw_pipelined(&mut raw, &mut get_ring, plan.get_ops);
    let set_m = measure_raw_pipelined(&mut raw, &mut set_ring, plan.set_ops);

    let mut latencies = Vec::with_capacity(plan.latency_ops);
    let mut one_ring = FrameRing::new(plan.depth, &get);
    raw.one_at_a_time(&mut one_ring, Plan::warm(plan.latency_ops), &mut latencies);
    latencies.clear();
    let w = Window::start();
    raw.one_at_a_time(&mut one_ring, plan.latency_ops, &mut latencies);
    let seq_m = w.stop(plan.latency_ops);
    raw.close();
    RunResult::new(get_m, set_m, seq_m, latencies)
}

fn run_raw_tokio(addr: SocketAddr, plan: &Plan) -> RunResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let plan = *plan;
    rt.block_on(async move {
        let (get, mut get_ring, mut set_ring) = rings(plan.depth);
        let mut raw = RawTokio::connect(addr).await;
        let get_m = raw.measure_pipelined(&mut get_ring, plan.get_ops).await;
        let set_m = raw.measure_pipelined(&mut set_ring, plan.set_ops).await;

        let mut latencies = Vec::with_capacity(plan.latency_ops);
        let mut one_ring = FrameRing::new(plan.depth, &get);
        raw.one_at_a_time(&mut one_ring, Plan::warm(plan.latency_ops), &mut latencies)
            .await;
        latencies.clear();
        let w = Window::start();
        raw.one_at_a_time(&mut one_ring, plan.latency_ops, &mut latencies)
            .await;
        let seq_m = w.stop(plan.latency_ops);
        raw.close().await;
        RunResult::new(get_m, set_m, seq_m, latencies)
    })
}

/// The raw client's ring needs whole laps to end where it started.
fn round_up(n: usize, depth: usize) -> usize {
    n.div_ceil(depth) * depth
}

// ---------------------------------------------------------------------------------------------
// The async clients (zk-tokio, zk-async-std): the same code for every runtime

/// Keeps `depth` getData calls in flight until `ops` have completed: submits `depth` calls
/// without awaiting (each call is on the wire's queue as soon as it is made), then awaits the
/// oldest and submits one more, and so on.
async fn async_pipelined_get<R>(client: &zk_client::Client<R>, ops: usize, depth: usize) {
    let mut window = VecDeque::with_capacity(depth);
    let mut submitted = 0;
    while submitted < ops.min(depth) {
        window.push_back(client.get_data(GET_PATH));
        submitted += 1;
    }
    while let Some(call) = window.pop_front() {
        let (data, _stat) = call.await.expect("getData");
        check_data(&data);
        if submitted < ops {
            window.push_back(client.get_data(GET_PATH));
            submitted += 1;
        }
    }
}

async fn async_pipelined_set<R>(
    client: &zk_client::Client<R>,
    payload: &Bytes,
    ops: usize,
    depth: usize,
) {
    let mut window = VecDeque::with_capacity(depth);
    let mut submitted = 0;
    while submitted < ops.min(depth) {
        window.push_back(client.set_data(SET_PATH, payload.clone(), None));
        submitted += 1;
    }
    while let Some(call) = window.pop_front() {
        call.await.expect("setData");
        if submitted < ops {
            window.push_back(client.set_data(SET_PATH, payload.clone(), None));
            submitted += 1;
        }
    }
}

async fn async_one_at_a_time<R>(
    client: &zk_client::Client<R>,
    ops: usize,
    latencies: &mut Vec<u64>,
) {
    for _ in 0..ops {
        let t = Instant::now();
        let (data, _stat) = client.get_data(GET_PATH).await.expect("getData");
        latencies.push(t.elapsed().as_nanos() as u64);
        check_data(&data);
    }
}

/// Every phase for one async client.
async fn async_run<R>(client: zk_client::Client<R>, plan: Plan) -> RunResult {
    async_pipelined_get(&client, Plan::warm(plan.get_ops), plan.depth).await;
    let w = Window::start();
    async_pipelined_get(&client, plan.get_ops, plan.depth).await;
    let get = w.stop(plan.get_ops);

    let payload = set_payload();
    async_pipelined_set(&client, &payload, Plan::warm(plan.set_ops), plan.depth).await;
    let w = Window::start();
    async_pipelined_set(&client, &payload, plan.set_ops, plan.depth).await;
    let set = w.stop(plan.set_ops);

    let mut latencies = Vec::with_capacity(plan.latency_ops);
    async_one_at_a_time(&client, Plan::warm(plan.latency_ops), &mut latencies).await;
    latencies.clear();
    let w = Window::start();
    async_one_at_a_time(&client, plan.latency_ops, &mut latencies).await;
    let seq = w.stop(plan.latency_ops);

    client.close().await;
    RunResult::new(get, set, seq, latencies)
}

fn run_tokio(connect: &str, plan: &Plan, multi_thread: bool) -> RunResult {
    let rt = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    let connect = connect.to_owned();
    let plan = *plan;
    let bench = async move {
        let client = zk_tokio::Client::connect(&connect)
            .await
            .expect("zk-tokio: connect");
        async_run(client, plan).await
    };
    if multi_thread {
        // On a worker thread, like a task of an application.
        rt.block_on(async { tokio::spawn(bench).await.expect("benchmark task") })
    } else {
        rt.block_on(bench)
    }
}

fn run_async_std(connect: &str, plan: &Plan) -> RunResult {
    async_std::task::block_on(async {
        let client = zk_async_std::Client::connect(connect)
            .await
            .expect("zk-async-std: connect");
        async_run(client, *plan).await
    })
}

fn run_smol(connect: &str, plan: &Plan) -> RunResult {
    smol::block_on(async {
        let client = zk_async_std::Client::connect(connect)
            .await
            .expect("zk-async-std: connect");
        async_run(client, *plan).await
    })
}

// ---------------------------------------------------------------------------------------------
// zk-blocking

/// Pipelines with `threads` threads sharing one client (one session), each making blocking
/// calls in a loop, so `threads` requests are in flight: a blocking API's only way to have
/// many requests outstanding. The threads are started and warmed up before the window opens.
fn blocking_pipelined(
    client: &zk_blocking::Client,
    threads: usize,
    warm: usize,
    ops: usize,
    op: fn(&zk_blocking::Client, &Bytes),
) -> Measured {
    let warm_left = Arc::new(AtomicI64::new(warm as i64));
    let left = Arc::new(AtomicI64::new(ops as i64));
    // Everyone (and the measuring thread) meets after the warm-up and after the measured ops.
    let barrier = Arc::new(Barrier::new(threads + 1));
    let payload = set_payload();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let client = client.clone();
            let (warm_left, left, barrier) = (warm_left.clone(), left.clone(), barrier.clone());
            let payload = payload.clone();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    while warm_left.fetch_sub(1, Ordering::Relaxed) > 0 {
                        op(&client, &payload);
                    }
                    barrier.wait();
                    while left.fetch_sub(1, Ordering::Relaxed) > 0 {
                        op(&client, &payload);
                    }
                    barrier.wait();
                })
                .expect("spawn a thread")
        })
        .collect();
    barrier.wait();
    let w = Window::start();
    barrier.wait();
    let m = w.stop(ops);
    for h in handles {
        h.join().expect("benchmark thread");
    }
    m
}

/// Keeps `depth` calls in flight on one thread until `ops` have completed: submits `depth`
/// calls without waiting ([`zk_blocking::Client::submit`]), then waits for the oldest and
/// submits one more, and so on: the pattern of the async clients, with blocking waits.
fn blocking_submitted<O: zk_client::session::Operation>(
    ops: usize,
    depth: usize,
    mut submit: impl FnMut() -> zk_blocking::Submitted<O>,
    mut check: impl FnMut(O::Output),
) where
    O::Error: std::fmt::Debug,
{
    let mut window = VecDeque::with_capacity(depth);
    let mut submitted = 0;
    while submitted < ops.min(depth) {
        window.push_back(submit());
        submitted += 1;
    }
    while let Some(call) = window.pop_front() {
        check(call.wait(None).expect("blocking call"));
        if submitted < ops {
            window.push_back(submit());
            submitted += 1;
        }
    }
}

fn blocking_get(client: &zk_blocking::Client, _: &Bytes) {
    let (data, _stat) = client.get_data(GET_PATH).expect("getData");
    check_data(&data);
}

fn blocking_set(client: &zk_blocking::Client, payload: &Bytes) {
    client
        .set_data(SET_PATH, payload.clone(), None)
        .expect("setData");
}

/// zk-blocking: pipelined on one thread with `submit`, or with `threads` threads each making
/// blocking calls.
fn run_blocking(connect: &str, plan: &Plan, threads: bool) -> RunResult {
    use zk_blocking::ops::{GetData, SetData};
    let client = zk_blocking::Client::connect(connect).expect("zk-blocking: connect");
    let payload = set_payload();
    let get_window = |ops| {
        let submit = || client.submit(GetData::new(GET_PATH));
        blocking_submitted(ops, plan.depth, submit, |(data, _)| check_data(&data));
    };
    let set_window = |ops| {
        let submit = || client.submit(SetData::new(SET_PATH, payload.clone()));
        blocking_submitted(ops, plan.depth, submit, drop);
    };
    let (get, set) = if threads {
        let n = plan.blocking_threads;
        (
            blocking_pipelined(
                &client,
                n,
                Plan::warm(plan.get_ops),
                plan.get_ops,
                blocking_get,
            ),
            blocking_pipelined(
                &client,
                n,
                Plan::warm(plan.set_ops),
                plan.set_ops,
                blocking_set,
            ),
        )
    } else {
        get_window(Plan::warm(plan.get_ops));
        let w = Window::start();
        get_window(plan.get_ops);
        let get = w.stop(plan.get_ops);
        set_window(Plan::warm(plan.set_ops));
        let w = Window::start();
        set_window(plan.set_ops);
        (get, w.stop(plan.set_ops))
    };
    let mut latencies = Vec::with_capacity(plan.latency_ops);
    let one = |latencies: &mut Vec<u64>, ops: usize| {
        for _ in 0..ops {
            let t = Instant::now();
            let (data, _stat) = client.get_data(GET_PATH).expect("getData");
            latencies.push(t.elapsed().as_nanos() as u64);
            check_data(&data);
        }
    };
    one(&mut latencies, Plan::warm(plan.latency_ops));
    latencies.clear();
    let w = Window::start();
    one(&mut latencies, plan.latency_ops);
    let seq = w.stop(plan.latency_ops);
    client.close();
    RunResult::new(get, set, seq, latencies)
}

// ---------------------------------------------------------------------------------------------
// Set-up

fn prepare_nodes(connect: &str) {
    let client = zk_blocking::Client::connect(connect).expect("set-up client: connect");
    for path in [GET_PATH, SET_PATH] {
        match client.create(
            path,
            vec![0x5a; DATA_LEN],
            zk_blocking::CreateMode::Persistent,
        ) {
            Ok(_) => {}
            Err(e) if *e.kind() == zk_blocking::ops::CreateError::NodeExists => {
                client
                    .set_data(path, vec![0x5a; DATA_LEN], None)
                    .expect("set-up: setData");
            }
            Err(e) => panic!("set-up: create {path}: {e}"),
        }
    }
    client.close();
}

/// Runs the raw client for `secs` seconds so the server's JIT has compiled its hot paths
/// before anything is measured.
fn warm_server(addr: SocketAddr, depth: usize, secs: f64) {
    let (get, mut get_ring, mut set_ring) = rings(depth);
    let mut raw = RawClient::connect(addr);
    let started = Instant::now();
    let mut lat = Vec::new();
    while started.elapsed().as_secs_f64() < secs {
        raw.pipelined(&mut get_ring, depth * 64);
        raw.pipelined(&mut set_ring, depth * 8);
        lat.clear();
        let mut one = FrameRing::new(depth, &get);
        raw.one_at_a_time(&mut one, depth, &mut lat);
    }
    raw.close();
}

// ---------------------------------------------------------------------------------------------
// Reporting

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

/// Medians over the repetitions of one client.
#[derive(Debug, Clone, Copy)]
struct Summary {
    get_ops: f64,
    get_ops_min: f64,
    get_ops_max: f64,
    set_ops: f64,
    get_cpu: f64,
    get_sys: f64,
    set_cpu: f64,
    seq_cpu: f64,
    seq_sys: f64,
    /// p50, p90, p99, p99.9 in microseconds.
    pct: [f64; 4],
}

fn summarize(runs: &[RunResult]) -> Summary {
    let m = |f: &dyn Fn(&RunResult) -> f64| median(runs.iter().map(f).collect());
    let gets: Vec<f64> = runs.iter().map(|r| r.get.ops_per_sec()).collect();
    let pct = [50.0, 90.0, 99.0, 99.9].map(|p| m(&|r| percentile(&r.latencies, p) / 1000.0));
    Summary {
        get_ops: median(gets.clone()),
        get_ops_min: gets.iter().copied().fold(f64::INFINITY, f64::min),
        get_ops_max: gets.iter().copied().fold(0.0, f64::max),
        set_ops: m(&|r| r.set.ops_per_sec()),
        get_cpu: m(&|r| r.get.cpu_us()),
        get_sys: m(&|r| r.get.sys_share()),
        set_cpu: m(&|r| r.set.cpu_us()),
        seq_cpu: m(&|r| r.seq.cpu_us()),
        seq_sys: m(&|r| r.seq.sys_share()),
        pct,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

struct Report {
    args: Args,
    plan: Plan,
    /// CPUs of the machine (counted before any pinning).
    cpus: usize,
    load_before: String,
    load_after: String,
    results: Vec<(Adapter, Summary)>,
    elapsed: Duration,
}

fn fmt_k(x: f64) -> String {
    format!("{:.1}k", x / 1000.0)
}

impl Report {
    fn summary(&self, a: Adapter) -> Option<&Summary> {
        self.results.iter().find(|r| r.0 == a).map(|r| &r.1)
    }

    fn method(&self) -> String {
        let p = &self.plan;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "- Server: Apache ZooKeeper 3.8 standalone (zk-tests harness, default options, \
             forceSync off, the JVM's full JIT as in production rather than the tests' \
             quick-start C1 only), a separate JVM on the same machine ({} CPUs: {}).",
            self.cpus,
            cpu_model()
        );
        let _ = writeln!(
            s,
            "- {}",
            if self.args.pin {
                "CPUs pinned (`--pin`): the server's JVM on the last CPU, the benchmark on the \
                 others, so client CPU does not take CPU from the server."
            } else {
                "CPUs shared: the server's JVM and the benchmark run on every CPU, so the CPU a \
                 client spends is taken from the server too (`--pin` separates them)."
            }
        );
        let _ = writeln!(
            s,
            "- Pipelined: {} requests in flight on one session; {} getData and {} setData of \
             1 KiB per run, after a warm-up of a tenth as many. Async clients submit {} calls \
             without awaiting, then await the oldest and submit one more each time; \
             zk-blocking does the same on one thread with `Client::submit` and blocking waits. \
             The thread-per-call row has {} threads share one client, each making blocking \
             calls in a loop ({} in flight). The raw client writes \
             pre-encoded frames, reads replies in 64 KiB reads and parses only length, xid and \
             error code{}; \"raw on tokio\" is the same client as one task on a tokio \
             current-thread runtime (tokio `TcpStream`): the least any tokio client can do.",
            p.depth,
            p.get_ops,
            p.set_ops,
            p.depth,
            p.blocking_threads,
            p.blocking_threads,
            if p.raw_extra_cpu.is_zero() {
                String::new()
            } else {
                format!(
                    ", and burns {} ns of CPU per pipelined reply (`--raw-extra-cpu`)",
                    p.raw_extra_cpu.as_nanos()
                )
            }
        );
        let _ = writeln!(
            s,
            "- Latency: {} getData calls of 1 KiB one at a time (after {} warm-up calls), \
             each timed with `Instant` around the call.",
            p.latency_ops,
            Plan::warm(p.latency_ops)
        );
        let _ = writeln!(
            s,
            "- Client CPU per op: the benchmark process's CPU clock \
             (`clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`: user + system, all threads including \
             the clients' I/O threads and exited ones, ns resolution) over the measured window, \
             divided by its operations. The server is a separate JVM process, so this is client \
             CPU only. The user/system split comes from utime/stime in `/proc/self/stat` \
             (CLK_TCK = {USER_HZ} ticks/s).",
        );
        let _ = writeln!(
            s,
            "- zk-tokio runs on a current-thread runtime (benchmark task and driver on one \
             thread); the multi-thread row spawns the benchmark task on a 2-worker runtime. \
             zk-async-std's benchmark runs under async-std's `task::block_on` or \
             `smol::block_on`; the awaiting task drives the session itself, its background \
             thread serving only what no task waits for. zk-blocking's caller writes its \
             requests and, waiting alone, reads its replies; the I/O thread reads when several \
             wait.",
        );
        let _ = writeln!(
            s,
            "- {} repetition(s), clients interleaved in each; figures are medians over the \
             repetitions (getData throughput also shows min-max). Load average (1/5/15 min) \
             before: {}, after: {}. Total time {:.0} s.",
            self.args.repeat,
            self.load_before,
            self.load_after,
            self.elapsed.as_secs_f64()
        );
        s
    }

    fn throughput_rows(&self) -> Vec<[String; 8]> {
        let raw = self.summary(Adapter::Raw).copied();
        self.results
            .iter()
            .map(|(a, s)| {
                let ratio = |x: f64, r: Option<f64>| {
                    r.map_or("-".into(), |r| format!("{:.0}%", 100.0 * x / r))
                };
                [
                    a.label().to_owned(),
                    fmt_k(s.get_ops),
                    format!("{}-{}", fmt_k(s.get_ops_min), fmt_k(s.get_ops_max)),
                    ratio(s.get_ops, raw.map(|r| r.get_ops)),
                    fmt_k(s.set_ops),
                    ratio(s.set_ops, raw.map(|r| r.set_ops)),
                    format!("{:.2} ({:.0}% sys)", s.get_cpu, 100.0 * s.get_sys),
                    format!("{:.2}", s.set_cpu),
                ]
            })
            .collect()
    }

    fn latency_rows(&self) -> Vec<[String; 6]> {
        self.results
            .iter()
            .map(|(a, s)| {
                [
                    a.label().to_owned(),
                    format!("{:.1}", s.pct[0]),
                    format!("{:.1}", s.pct[1]),
                    format!("{:.1}", s.pct[2]),
                    format!("{:.1}", s.pct[3]),
                    format!("{:.2} ({:.0}% sys)", s.seq_cpu, 100.0 * s.seq_sys),
                ]
            })
            .collect()
    }

    fn target_rows(&self) -> Vec<[String; 4]> {
        let mut rows = Vec::new();
        let (Some(tokio), Some(raw)) = (self.summary(Adapter::Tokio), self.summary(Adapter::Raw))
        else {
            return rows;
        };
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" }.to_owned();
        rows.push([
            "zk-tokio client CPU per pipelined getData < 10 us".into(),
            format!("{:.2} us", tokio.get_cpu),
            "< 10 us".into(),
            verdict(tokio.get_cpu < 10.0),
        ]);
        let r = tokio.get_ops / raw.get_ops;
        rows.push([
            format!(
                "zk-tokio pipelined getData within 10% of raw ({})",
                if self.args.pin {
                    "CPUs pinned"
                } else {
                    "CPUs shared"
                }
            ),
            format!("{:.0}% of raw", 100.0 * r),
            ">= 90%".into(),
            verdict(r >= 0.9),
        ]);
        for a in [Adapter::AsyncStd, Adapter::Smol, Adapter::Blocking] {
            let Some(s) = self.summary(a) else { continue };
            for (what, mine, theirs) in [
                ("pipelined getData", s.get_cpu, tokio.get_cpu),
                ("one-at-a-time getData", s.seq_cpu, tokio.seq_cpu),
            ] {
                let r = mine / theirs;
                rows.push([
                    format!("{} CPU per {what} within 25% of zk-tokio", a.label()),
                    format!(
                        "{mine:.2} us = {:.0}% of zk-tokio's {theirs:.2} us",
                        100.0 * r
                    ),
                    "<= 125%".into(),
                    verdict(r <= 1.25),
                ]);
            }
        }
        if let Some(b) = self.summary(Adapter::Blocking) {
            for (i, name) in ["p50", "p99"].iter().enumerate() {
                let k = [0, 2][i];
                rows.push([
                    format!("zk-blocking one-at-a-time latency {name} no worse than zk-tokio"),
                    format!("{:.1} us vs zk-tokio's {:.1} us", b.pct[k], tokio.pct[k]),
                    "<= zk-tokio's".into(),
                    verdict(b.pct[k] <= tokio.pct[k]),
                ]);
            }
        }
        rows
    }

    const THROUGHPUT_HEAD: [&'static str; 8] = [
        "client",
        "getData ops/s",
        "getData min-max",
        "vs raw",
        "setData ops/s",
        "vs raw",
        "CPU us/getData",
        "CPU us/setData",
    ];
    const LATENCY_HEAD: [&'static str; 6] = [
        "client",
        "p50 us",
        "p90 us",
        "p99 us",
        "p99.9 us",
        "CPU us/op",
    ];
    const TARGET_HEAD: [&'static str; 4] = ["target", "measured", "goal", "verdict"];

    fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\n== Pipelined, {} in flight, 1 KiB (throughput; client CPU per op) ==",
            self.plan.depth
        );
        s += &text_table(&Self::THROUGHPUT_HEAD, &self.throughput_rows());
        let _ = writeln!(
            s,
            "\n== One request at a time, getData 1 KiB (latency; client CPU per op) =="
        );
        s += &text_table(&Self::LATENCY_HEAD, &self.latency_rows());
        let targets = self.target_rows();
        if !targets.is_empty() {
            let _ = writeln!(s, "\n== Targets ==");
            s += &text_table(&Self::TARGET_HEAD, &targets);
        }
        let _ = writeln!(s, "\nMethod:");
        s += &self.method();
        s
    }

    fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### Pipelined: {} requests in flight, 1 KiB\n",
            self.plan.depth
        );
        s += &md_table(&Self::THROUGHPUT_HEAD, &self.throughput_rows());
        let _ = writeln!(s, "\n### One request at a time: getData 1 KiB\n");
        s += &md_table(&Self::LATENCY_HEAD, &self.latency_rows());
        let targets = self.target_rows();
        if !targets.is_empty() {
            let _ = writeln!(s, "\n### Targets\n");
            s += &md_table(&Self::TARGET_HEAD, &targets);
        }
        let _ = writeln!(s, "\n### Method\n");
        s += &self.method();
        let args: Vec<String> = std::env::args().skip(1).collect();
        let _ = writeln!(
            s,
            "\nCommand: `cargo run --release -p zk-tests --bin zk-bench -- {}`",
            args.join(" ")
        );
        s
    }
}

fn text_table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = head.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                let _ = write!(l, "{cell:<w$}");
            } else {
                let _ = write!(l, "  {cell:>w$}");
            }
        }
        l.push('\n');
        l
    };
    let mut s = line(head.to_vec());
    s += &line(
        widths
            .iter()
            .map(|&w| "-".repeat(w))
            .collect::<Vec<_>>()
            .iter()
            .map(|x| x.as_str())
            .collect(),
    );
    for row in rows {
        s += &line(row.iter().map(|c| c.as_str()).collect());
    }
    s
}

fn md_table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut s = format!("| {} |\n", head.join(" | "));
    s += &format!(
        "|{}\n",
        (0..N)
            .map(|i| if i == 0 { " --- |" } else { " ---: |" })
            .collect::<String>()
    );
    for row in rows {
        s += &format!("| {} |\n", row.join(" | "));
    }
    s
}

// ---------------------------------------------------------------------------------------------

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let started = Instant::now();
    let load_before = loadavg();
    eprintln!("zk-bench: load average before: {load_before}");

    let server = match &args.connect {
        Some(_) => None,
        None => {
            eprintln!("zk-bench: starting a standalone ZooKeeper");
            // A production server's JIT, not the tests' quick-start one.
            let options = ServerOptions {
                full_jit: true,
                ..ServerOptions::default()
            };
            Some(Server::standalone(&options).map_err(|e| e.to_string())?)
        }
    };
    if args.pin {
        let pid = server
            .as_ref()
            .and_then(Server::pid)
            .ok_or("no server process to pin")?;
        let (client_cpus, server_cpu) = zk_tests::pinning::pin(pid)?;
        eprintln!("zk-bench: server on CPU {server_cpu}, clients on CPU {client_cpus}");
    }
    let connect = match (&args.connect, &server) {
        (Some(c), _) => c.clone(),
        (None, Some(s)) => s.connect_string(),
        (None, None) => unreachable!(),
    };
    let addr = connect
        .to_socket_addrs()
        .map_err(|e| format!("resolving {connect}: {e}"))?
        .next()
        .ok_or("no address")?;
    let plan = Plan {
        get_ops: args.get_ops,
        set_ops: args.set_ops,
        latency_ops: args.latency_ops,
        depth: args.depth,
        blocking_threads: args.blocking_threads.unwrap_or(args.depth),
        raw_extra_cpu: Duration::from_nanos(args.raw_extra_cpu_ns),
    };

    prepare_nodes(&connect);
    let warm_secs = args.warm_secs.unwrap_or(if args.quick { 3.0 } else { 8.0 });
    eprintln!("zk-bench: warming the server up for {warm_secs} s");
    warm_server(addr, plan.depth, warm_secs);

    let mut runs: Vec<(Adapter, Vec<RunResult>)> =
        args.adapters.iter().map(|&a| (a, Vec::new())).collect();
    for rep in 0..args.repeat {
        for (adapter, results) in runs.iter_mut() {
            eprint!(
                "zk-bench: repetition {}/{}: {} ... (load {}) ",
                rep + 1,
                args.repeat,
                adapter.label(),
                loadavg()
            );
            let r = match adapter {
                Adapter::Raw => run_raw(addr, &plan),
                Adapter::RawTokio => run_raw_tokio(addr, &plan),
                Adapter::Tokio => run_tokio(&connect, &plan, false),
                Adapter::TokioMt => run_tokio(&connect, &plan, true),
                Adapter::AsyncStd => run_async_std(&connect, &plan),
                Adapter::Smol => run_smol(&connect, &plan),
                Adapter::Blocking => run_blocking(&connect, &plan, false),
                Adapter::BlockingThreads => run_blocking(&connect, &plan, true),
            };
            eprintln!(
                "get {:.0}/s {:.2} us CPU, set {:.0}/s, p50 {:.1} us, seq {:.2} us CPU",
                r.get.ops_per_sec(),
                r.get.cpu_us(),
                r.set.ops_per_sec(),
                percentile(&r.latencies, 50.0) / 1000.0,
                r.seq.cpu_us()
            );
            results.push(r);
        }
    }

    let report = Report {
        plan,
        cpus,
        load_before,
        load_after: loadavg(),
        results: runs.iter().map(|(a, r)| (*a, summarize(r))).collect(),
        elapsed: started.elapsed(),
        args: args.clone(),
    };
    println!("{}", report.text());
    if let Some(path) = &args.markdown {
        std::fs::write(path, report.markdown()).map_err(|e| format!("writing {path}: {e}"))?;
        eprintln!("zk-bench: markdown written to {path}");
    }
    drop(server);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zk-bench: {message}");
            ExitCode::FAILURE
        }
    }
}
