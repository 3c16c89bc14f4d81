//! The tree cache at scale, against a local standalone ZooKeeper started for the run, on a tree
//! of 102,041 nodes (a root, 40 children, 50 below each, 50 below each of those) with 100-byte
//! values:
//!
//! * initial load: from starting the cache to its `Initialized`;
//! * memory per cached node beyond its 100-byte payload: the process's resident memory after
//!   the load less before it, per node, less 100;
//! * updates: a writer client (pipelined, 256 in flight) sets 8-byte values on random leaves,
//!   the last one a known value on a known node; the rate the cache applies them (the writer's
//!   updates over the time from its first update until the cache holds the last value) and the
//!   final lag (from the writer's last reply until the cache holds the last value);
//! * resynchronization: the server is restarted under the cache (its session survives); the
//!   time from the client's reconnection to the cache's `Resynchronized` (a walk of the whole
//!   tree, diffed against what the cache holds).
//!
//! zk-recipes' `TreeCache` runs on zk-tokio's current-thread runtime, with a task reading its
//! events as they come (as a listener would). With `--peers`, Curator's `TreeCache` and
//! `CuratorCache` (Debian's `libcurator-recipes-java` 5.4) and kazoo's `TreeCache` (Debian's
//! `python3-kazoo`) load the same tree and follow the same writer in the same run
//! (`tests/peers/CuratorCacheBench.java`, `tests/peers/kazoo_cache_bench.py`); their memory is
//! their own measure (the JVM's used heap after GCs; kazoo's traced Python allocations, which
//! also slow its load). None of them signals the end of a resynchronization, so that row is
//! zk-recipes' alone.
//!
//! With `--pin`, the server's JVM runs on the last CPU and the benchmark (and the peers) on
//! the others. `--updates N` (default 20000), `--shape a,b,c` (default 40,50,50).
//!
//! `cargo run --release -p zk-tests --bin cache-bench -- [--peers] [--pin]`

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_recipes::cache::{CacheEvent, TreeCache};
use zk_tests::{Server, ServerOptions};
use zk_tokio::{Client, CreateMode, SessionState};

/// The tree's root.
const ROOT: &str = "/cache-bench";

/// One client's results: `name value` pairs, or why it failed.
type Figures = Vec<(String, String)>;

fn arg(flag: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != flag).nth(1)
}

/// The process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let updates: u64 = arg("--updates")
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let shape: Vec<usize> = arg("--shape")
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![40, 50, 50]);
    let peers = std::env::args().any(|a| a == "--peers");
    // A heap for the tree and the peers' per-node watches (kazoo's and TreeCache's: two per
    // node).
    let mut server = Server::standalone(&ServerOptions {
        heap_mb: 1024,
        ..ServerOptions::default()
    })?;
    let connect = server.connect_string();
    if std::env::args().any(|a| a == "--pin") {
        let pid = server.pid().ok_or("the server runs")?;
        let (clients, server_cpu) = zk_tests::pinning::pin(pid)?;
        println!("pinned: clients on CPUs {clients}, the server on CPU {server_cpu}");
    }
    let writer = Client::builder(&connect)
        .session_timeout(Duration::from_secs(30))
        .connect()
        .await?;
    let started = Instant::now();
    let (nodes, leaves) = build_tree(&writer, &shape).await?;
    println!(
        "tree: {nodes} nodes ({} leaves) with 100-byte values, created in {:?}",
        leaves.len(),
        started.elapsed()
    );

    let mut results: Vec<(&str, Result<Figures, String>)> = Vec::new();
    let ours = measure_ours(&mut server, &connect, &writer, &leaves, nodes, updates).await;
    results.push(("zk-recipes TreeCache", ours.map_err(|e| e.to_string())));
    if peers {
        for (name, mode) in [
            ("Curator 5.4 TreeCache", "treecache"),
            ("Curator 5.4 CuratorCache", "curatorcache"),
        ] {
            let mut java = zk_tests::peers::curator("CuratorCacheBench.java");
            java.args([&connect, ROOT, &nodes.to_string(), mode, "300"]);
            let figures = measure_peer(java, &connect, &leaves, updates).await;
            results.push((name, figures));
        }
        let mut python = zk_tests::peers::kazoo("kazoo_cache_bench.py");
        python.args([&connect, ROOT, &nodes.to_string(), "-", "300"]);
        let figures = measure_peer(python, &connect, &leaves, updates).await;
        results.push(("kazoo 2.8 TreeCache", figures));
    }

    println!("\n{nodes} nodes, {updates} updates");
    print!("| measurement |");
    for (name, _) in &results {
        print!(" {name} |");
    }
    print!("\n|---|");
    for _ in &results {
        print!("--:|");
    }
    println!();
    for (key, label) in [
        ("loaded_nodes", "nodes cached at initialization"),
        ("load_ms", "initial load (ms)"),
        (
            "bytes_per_node",
            "memory per node beyond the payload (bytes)",
        ),
        (
            "heap_bytes_per_node",
            "memory per node, the peer's own measure (bytes)",
        ),
        ("writer_per_s", "updates made per second by the writer"),
        ("updates_per_s", "updates applied per second"),
        ("lag_ms", "final lag (ms)"),
        ("updates_seen", "update events seen"),
        ("resync_ms", "resynchronization after a reconnect (ms)"),
    ] {
        print!("| {label} |");
        for (_, figures) in &results {
            let cell = match figures {
                Ok(figures) => figures
                    .iter()
                    .find(|(n, _)| n == key)
                    .map_or("-".to_owned(), |(_, v)| v.clone()),
                Err(_) => "failed".to_owned(),
            };
            print!(" {cell} |");
        }
        println!();
    }
    for (name, figures) in &results {
        if let Err(e) = figures {
            eprintln!("{name} failed: {e}");
        }
    }
    Ok(())
}

/// Creates the tree (pipelined); the number of nodes and the leaves' paths.
async fn build_tree(
    client: &Client,
    shape: &[usize],
) -> Result<(usize, Vec<String>), Box<dyn std::error::Error>> {
    let value = Bytes::from(vec![b'x'; 100]);
    let _ = zk_recipes::delete_all(client, ROOT).await;
    client
        .create(ROOT, value.clone(), CreateMode::Persistent)
        .await?;
    let mut level = vec![ROOT.to_owned()];
    let mut nodes = 1;
    for fanout in shape {
        let mut next = Vec::with_capacity(level.len() * fanout);
        for parent in &level {
            for i in 0..*fanout {
                next.push(format!("{parent}/n{i}"));
            }
        }
        for chunk in next.chunks(1000) {
            let calls: Vec<_> = chunk
                .iter()
                .map(|p| client.create(p, value.clone(), CreateMode::Persistent))
                .collect();
            for call in calls {
                call.await?;
            }
        }
        nodes += next.len();
        level = next;
    }
    Ok((nodes, level))
}

/// The writer: `updates` setData calls on random leaves (256 in flight), the last one the
/// value `updates` on the first leaf. Returns when every reply has come. A call that fails
/// with ConnectionLoss (a peer that floods the server can delay the writer's pings past its
/// read timeout) is sent again: each sets an absolute value, and the last one is sent last.
async fn write_updates(
    writer: &Client,
    leaves: &[String],
    updates: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut in_flight = std::collections::VecDeque::new();
    let mut resent = 0;
    let set =
        |leaf: &str, n: u64| writer.set_data(leaf, Bytes::copy_from_slice(&n.to_be_bytes()), None);
    for n in 1..=updates {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let leaf = if n == updates {
            leaves[0].clone()
        } else {
            leaves[(seed % leaves.len() as u64) as usize].clone()
        };
        in_flight.push_back((set(&leaf, n), leaf, n));
        while in_flight.len() >= 256 || (n == updates && !in_flight.is_empty()) {
            let Some((call, leaf, n)) = in_flight.pop_front() else {
                break;
            };
            match call.await {
                Ok(_) => {}
                Err(e) if e.common() == Some(zk_tokio::CommonError::ConnectionLoss) => {
                    // Not an older value over the last one.
                    if leaf != leaves[0] || n == updates {
                        resent += 1;
                        in_flight.push_back((set(&leaf, n), leaf, n));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    if resent > 0 {
        println!("the writer sent {resent} updates again after a ConnectionLoss");
    }
    Ok(())
}

async fn measure_ours(
    server: &mut Server,
    connect: &str,
    writer: &Client,
    leaves: &[String],
    nodes: usize,
    updates: u64,
) -> Result<Figures, Box<dyn std::error::Error>> {
    let reader = Client::builder(connect)
        .session_timeout(Duration::from_secs(30))
        .connect()
        .await?;
    let before = rss();
    let started = Instant::now();
    let cache = std::sync::Arc::new(TreeCache::new(reader.clone(), ROOT));
    // The events' reader, as a listener: counts the updates, notes when a resynchronization
    // ends, and ticks `events` after each event (which comes after the cache changed), so that
    // the measurements below wait for events rather than poll the cache.
    let (tick, mut events) = tokio::sync::watch::channel(None::<Instant>);
    let consumer = {
        let cache = cache.clone();
        tokio::spawn(async move {
            let mut updated = 0u64;
            while let Some(event) = cache.next_event().await {
                match event {
                    CacheEvent::Updated { .. } => updated += 1,
                    CacheEvent::Resynchronized => {
                        tick.send_replace(Some(Instant::now()));
                        continue;
                    }
                    _ => {}
                }
                tick.send_modify(|_| {});
            }
            updated
        })
    };
    cache.wait_initialized().await?;
    let load = started.elapsed();
    let loaded = cache.len();
    let after = rss();
    let per_node = (after.saturating_sub(before) as f64 / loaded as f64) - 100.0;
    println!("zk-recipes: {loaded} nodes loaded in {load:?}, {per_node:.0} bytes/node");
    if loaded != nodes {
        eprintln!("zk-recipes loaded {loaded} nodes, expected {nodes}");
    }

    let written_from = Instant::now();
    write_updates(writer, leaves, updates).await?;
    let written = Instant::now();
    let want = Bytes::copy_from_slice(&updates.to_be_bytes());
    let seen_at = loop {
        if cache.get(&leaves[0]).and_then(|n| n.data().cloned()) == Some(want.clone()) {
            break Instant::now();
        }
        if events.changed().await.is_err() {
            return Err(format!("the cache ended: {:?}", cache.ended()).into());
        }
    };
    let lag = seen_at - written;
    let rate = updates as f64 / (seen_at - written_from).as_secs_f64();
    let writer_rate = updates as f64 / (written - written_from).as_secs_f64();
    println!(
        "zk-recipes: {rate:.0} updates/s applied (the writer made {writer_rate:.0}/s), final lag \
         {lag:?}"
    );

    // A reconnect: the server restarts under the cache; its session survives.
    let mut states = reader.state_watcher();
    server.stop()?;
    server.start()?;
    let reconnected = loop {
        match states.changed().await {
            Some(SessionState::Connected) => break Instant::now(),
            Some(state) if state.is_terminal() => return Err(format!("session {state:?}").into()),
            Some(_) => continue,
            None => return Err("the session's states ended".into()),
        }
    };
    let resynced = match events.wait_for(Option::is_some).await {
        Ok(at) => at.unwrap_or(reconnected),
        Err(_) => {
            return Err(format!(
                "the cache ended before resynchronizing: {:?}",
                cache.ended()
            )
            .into())
        }
    };
    let resync = resynced.saturating_duration_since(reconnected);
    println!("zk-recipes: resynchronized {resync:?} after reconnecting");
    let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1e3);
    cache.close().await;
    let updated = {
        drop(cache);
        consumer.await.unwrap_or(0)
    };
    reader.close().await;
    Ok(vec![
        ("loaded_nodes".into(), loaded.to_string()),
        ("load_ms".into(), ms(load)),
        ("bytes_per_node".into(), format!("{per_node:.0}")),
        ("updates_per_s".into(), format!("{rate:.0}")),
        ("writer_per_s".into(), format!("{writer_rate:.0}")),
        ("lag_ms".into(), format!("{:.1}", lag.as_secs_f64() * 1e3)),
        ("updates_seen".into(), updated.to_string()),
        ("resync_ms".into(), ms(resync)),
    ])
}

/// A peer's run: its load figures, then the same writer, then its lag.
async fn measure_peer(
    mut command: Command,
    connect: &str,
    leaves: &[String],
    updates: u64,
) -> Result<Figures, String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run: {e}"))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("no pipes".into());
    };
    let mut peer = Peer {
        child,
        stdin,
        stdout: BufReader::new(stdout),
    };
    let mut figures = peer.read_until("ready")?;
    if figures
        .iter()
        .any(|(n, v)| n == "load_ms" && v == "timeout")
    {
        return Ok(figures);
    }
    // A writer connected now: a peer whose load floods the server can hold an idle session's
    // pings (and its reconnection) past its timeout.
    let writer = Client::builder(connect)
        .session_timeout(Duration::from_secs(30))
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let writer = &writer;
    let written_from = Instant::now();
    write_updates(writer, leaves, updates)
        .await
        .map_err(|e| e.to_string())?;
    let written = Instant::now();
    writeln!(peer.stdin, "expect {} {updates}", leaves[0]).map_err(|e| e.to_string())?;
    peer.stdin.flush().map_err(|e| e.to_string())?;
    let after = peer.read_until("updates_seen")?;
    let lag_ms: Option<f64> = after
        .iter()
        .find(|(n, _)| n == "lag_ms")
        .and_then(|(_, v)| v.parse().ok());
    if let Some(lag_ms) = lag_ms {
        let seen = written + Duration::from_secs_f64(lag_ms / 1e3);
        let rate = updates as f64 / (seen - written_from).as_secs_f64();
        figures.push(("updates_per_s".into(), format!("{rate:.0}")));
    }
    let writer_rate = updates as f64 / (written - written_from).as_secs_f64();
    figures.push(("writer_per_s".into(), format!("{writer_rate:.0}")));
    figures.extend(after);
    let _ = writeln!(peer.stdin, "quit");
    let _ = peer.child.wait();
    Ok(figures)
}

/// A peer process and its pipes.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    /// Reads `name value` lines until the one named `last` (included).
    fn read_until(&mut self, last: &str) -> Result<Figures, String> {
        let mut figures = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            let read = self
                .stdout
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            if read == 0 {
                let _ = self.child.wait();
                return Err(format!("the peer stopped before `{last}`: {figures:?}"));
            }
            let (name, value) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
            figures.push((name.to_owned(), value.to_owned()));
            if name == last {
                return Ok(figures);
            }
        }
    }
}
