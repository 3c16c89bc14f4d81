//! The recipes' costs against a local standalone ZooKeeper started for the run (zk-tokio on a
//! current-thread runtime):
//!
//! * uncontended mutex acquire + release, latency percentiles;
//! * acquisitions per second with 10 contenders (each with its own session) taking one mutex
//!   in turn, and the hand-over from a release to the next holder;
//! * leader fail-over: the leader's session is closed, until the next participant leads;
//! * the floor under the first: a raw ephemeral-sequential create then a delete, one after
//!   the other (the two writes every mutex's acquire + release costs the server).
//!
//! With `--peers`, Curator's `InterProcessMutex` and `LeaderLatch` (Debian's
//! `libcurator-recipes-java`) and kazoo's `Lock` (Debian's `python3-kazoo`; kazoo's `Election`
//! is a `Lock`) do the same measurements against the same server in the same run
//! (`tests/peers/`), and a table compares them.
//!
//! Fairness: the server is warmed up first (one unmeasured pass of every measurement), every
//! client runs `--warm-up` unmeasured acquire + release cycles before measuring, and the
//! clients take turns over `--rounds` rounds, in a rotated order; the table gives each
//! figure's median over the rounds with its range.
//!
//! With `--pin`, the server's JVM runs on the last CPU and the benchmark (and the peers it
//! starts) on the others.
//!
//! `cargo run --release -p zk-tests --bin recipes-bench [-- --iterations N] [--rounds N]
//! [--warm-up N] [--peers] [--pin]`

use std::time::{Duration, Instant};

use zk_client::ops::{Create, Delete};
use zk_client::proto::CreateMode;
use zk_recipes::{Election, Mutex};
use zk_tests::{Server, ServerOptions};
use zk_tokio::Client;

/// One client's results: `name value` pairs.
type Figures = Vec<(String, f64)>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(what: &str, mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    println!(
        "{what}: p50 {:?}, p90 {:?}, p99 {:?} ({} samples)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        samples.len()
    );
    (
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.9).as_secs_f64() * 1e6,
    )
}

/// Runs a peer's benchmark and returns its `name value` lines.
fn peer(mut command: std::process::Command) -> Result<Vec<(String, f64)>, String> {
    let output = command.output().map_err(|e| format!("cannot run: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

/// The value after `flag` on the command line.
fn arg(flag: &str, default: usize) -> usize {
    std::env::args()
        .skip_while(|a| a != flag)
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let iterations = arg("--iterations", 1000);
    let rounds = arg("--rounds", 3).max(1);
    let warm_up = arg("--warm-up", 1000);
    let peers = std::env::args().any(|a| a == "--peers");
    let server = Server::standalone(&ServerOptions::default())?;
    let connect = server.connect_string();
    if std::env::args().any(|a| a == "--pin") {
        let pid = server.pid().ok_or("the server runs")?;
        let (clients, server_cpu) = zk_tests::pinning::pin(pid)?;
        println!("pinned: clients on CPUs {clients}, the server on CPU {server_cpu}");
    }
    println!("warming the server up (one unmeasured pass)");
    ours(&connect, iterations, warm_up).await?;

    let names: &[&str] = if peers {
        &["zk-recipes", "Curator 5.4", "kazoo 2.8"]
    } else {
        &["zk-recipes"]
    };
    let mut results: Vec<Vec<Result<Figures, String>>> = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        for turn in 0..names.len() {
            let who = (round + turn) % names.len();
            println!("round {}: {}", round + 1, names[who]);
            let figures = match who {
                0 => ours(&connect, iterations, warm_up)
                    .await
                    .map_err(|e| e.to_string()),
                1 => curator(&connect, iterations, warm_up),
                _ => kazoo(&connect, iterations, warm_up),
            };
            if let Err(e) = &figures {
                eprintln!("{} failed: {e}", names[who]);
            }
            results[who].push(figures);
        }
    }

    println!(
        "\nmedian over {rounds} rounds (range), {iterations} uncontended cycles after {warm_up} \
         unmeasured"
    );
    print!("| measurement |");
    for name in names {
        print!(" {name} |");
    }
    print!("\n|---|");
    for _ in names {
        print!("--:|");
    }
    println!();
    for (name, label) in [
        ("uncontended_p50_us", "uncontended acquire+release p50 (us)"),
        ("uncontended_p90_us", "uncontended acquire+release p90 (us)"),
        ("contended_per_s", "10 contenders, acquisitions/s"),
        ("handover_p50_us", "hand-over with 10 waiters p50 (us)"),
        ("handover_p90_us", "hand-over with 10 waiters p90 (us)"),
        (
            "failover_p50_us",
            "fail-over after a session close p50 (us)",
        ),
        (
            "failover_p90_us",
            "fail-over after a session close p90 (us)",
        ),
        ("floor_p50_us", "floor: create + delete, raw, p50 (us)"),
        (
            "floor_per_s",
            "floor: 10 sessions, raw create + delete cycles/s",
        ),
    ] {
        print!("| {label} |");
        for client in &results {
            print!(" {} |", summary(client, name));
        }
        println!();
    }
    Ok(())
}

/// A figure's median over the rounds and its range, `-` when no round has it.
fn summary(rounds: &[Result<Figures, String>], name: &str) -> String {
    let mut values: Vec<f64> = rounds
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter_map(|figures| figures.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
        .collect();
    if values.is_empty() {
        return "-".to_owned();
    }
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    if values.len() == 1 {
        format!("{median:.0}")
    } else {
        format!(
            "{median:.0} ({:.0}-{:.0})",
            values[0],
            values[values.len() - 1]
        )
    }
}

/// Curator's figures, from its benchmark in a JVM of its own.
fn curator(connect: &str, iterations: usize, warm_up: usize) -> Result<Figures, String> {
    let mut java = zk_tests::peers::curator("CuratorRecipesBench.java");
    java.arg(connect)
        .arg(iterations.to_string())
        .arg(warm_up.to_string());
    peer(java)
}

/// kazoo's figures, from its benchmark in a Python process of its own.
fn kazoo(connect: &str, iterations: usize, warm_up: usize) -> Result<Figures, String> {
    let mut python = zk_tests::peers::kazoo("kazoo_recipes_bench.py");
    python
        .arg(connect)
        .arg(iterations.to_string())
        .arg(warm_up.to_string());
    peer(python)
}

/// zk-recipes' figures.
async fn ours(
    connect: &str,
    iterations: usize,
    warm_up: usize,
) -> Result<Figures, Box<dyn std::error::Error>> {
    let mut ours = Vec::new();
    let client = Client::connect(connect).await?;

    // Uncontended acquire + release.
    let mutex = Mutex::new(client.clone(), "/bench/uncontended");
    for _ in 0..warm_up.max(1) {
        mutex.acquire().await?.release().await?; // the first creates the path
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        mutex.acquire().await?.release().await?;
        samples.push(started.elapsed());
    }
    let (p50, p90) = report("uncontended acquire+release", samples);
    ours.push(("uncontended_p50_us".to_owned(), p50));
    ours.push(("uncontended_p90_us".to_owned(), p90));

    // The floor: the same two writes, raw.
    zk_recipes::ensure_path(&client, "/bench/floor", zk_recipes::Parents::Persistent).await?;
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let node = client
            .call(
                Create::new("/bench/floor/raw-", bytes::Bytes::new())
                    .mode(CreateMode::EphemeralSequential),
            )
            .await?;
        client.call(Delete::new(node.path)).await?;
        samples.push(started.elapsed());
    }
    let (p50, _) = report("floor: raw create + delete", samples);
    ours.push(("floor_p50_us".to_owned(), p50));

    // Ten contenders, each with its own session, for five seconds. Hand-over: from a holder
    // starting its release to the next holder's acquire returning.
    let mut contenders = Vec::new();
    let epoch = Instant::now();
    let deadline = epoch + Duration::from_secs(5);
    let released_at = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handovers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for _ in 0..10 {
        let client = Client::connect(connect).await?;
        let mutex = Mutex::new(client, "/bench/contended");
        let (released_at, handovers) = (released_at.clone(), handovers.clone());
        contenders.push(tokio::spawn(async move {
            let mut taken = 0u64;
            while Instant::now() < deadline {
                match mutex.acquire().await {
                    Ok(guard) => {
                        taken += 1;
                        let now = epoch.elapsed().as_nanos() as u64;
                        let released = released_at.load(std::sync::atomic::Ordering::SeqCst);
                        if released != 0 {
                            if let Ok(mut samples) = handovers.lock() {
                                samples.push(Duration::from_nanos(now.saturating_sub(released)));
                            }
                        }
                        released_at.store(
                            epoch.elapsed().as_nanos() as u64,
                            std::sync::atomic::Ordering::SeqCst,
                        );
                        let _ = guard.release().await;
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(taken)
        }));
    }
    let started = Instant::now();
    let mut taken = 0;
    for contender in contenders {
        taken += contender.await??;
    }
    let rate = taken as f64 / started.elapsed().as_secs_f64();
    println!(
        "10 contenders: {taken} acquisitions in {:?} = {rate:.0} acquisitions/s",
        started.elapsed()
    );
    ours.push(("contended_per_s".to_owned(), rate));
    let samples = std::mem::take(&mut *handovers.lock().map_err(|_| "poisoned")?);
    let (p50, p90) = report(
        "hand-over with 10 waiters (release started -> next holds)",
        samples,
    );
    ours.push(("handover_p50_us".to_owned(), p50));
    ours.push(("handover_p90_us".to_owned(), p90));

    // The floor under the contended rate: ten sessions, each creating an ephemeral-sequential
    // node and deleting it, one cycle at a time, for five seconds: the server's rate for the
    // two writes every acquisition costs it, with nothing waiting on anything else.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut cyclers = Vec::new();
    for _ in 0..10 {
        let client = Client::connect(connect).await?;
        cyclers.push(tokio::spawn(async move {
            let mut cycles = 0u64;
            while Instant::now() < deadline {
                let create = Create::new("/bench/floor/raw-", bytes::Bytes::new())
                    .mode(CreateMode::EphemeralSequential);
                let node = client.call(create).await?;
                client.call(Delete::new(node.path)).await?;
                cycles += 1;
            }
            client.close().await;
            Ok::<_, zk_client::ops::Error>(cycles)
        }));
    }
    let started = Instant::now();
    let mut cycles = 0;
    for cycler in cyclers {
        cycles += cycler.await??;
    }
    let rate = cycles as f64 / started.elapsed().as_secs_f64();
    println!("floor: 10 sessions, raw create + delete: {rate:.0} cycles/s");
    ours.push(("floor_per_s".to_owned(), rate));

    // Leader fail-over after the leader's session is closed.
    let mut samples = Vec::new();
    for round in 0..20 {
        let path = format!("/bench/election-{round}");
        let leader_client = Client::connect(connect).await?;
        let leader = Election::new(leader_client.clone(), &path).join(&b"leader"[..]);
        leader.wait_leader().await?;
        let follower = Election::new(client.clone(), &path).join(&b"follower"[..]);
        // Until the follower is queued: a children watch says when the election changes.
        loop {
            let ((queued, _), changed) = client.get_children_and_watch(&path).await?;
            if queued.len() >= 2 {
                break;
            }
            let _ = changed.await;
        }
        let started = Instant::now();
        leader_client.close().await;
        follower.wait_leader().await?;
        samples.push(started.elapsed());
        follower.close().await;
    }
    let (p50, p90) = report("fail-over (leader's session closed -> next leads)", samples);
    ours.push(("failover_p50_us".to_owned(), p50));
    ours.push(("failover_p90_us".to_owned(), p90));
    client.close().await;
    Ok(ours)
}
