//! The recipes' costs against a local standalone ZooKeeper started for the run (zk-tokio on a
//! current-thread runtime):
//!
//! * uncontended mutex acquire + release, latency percentiles;
//! * acquisitions per second with 10 contenders (each with its own session) taking one mutex
//!   in turn;
//! * leader fail-over: the leader's session is closed, until the next participant leads.
//!
//! `cargo run --release -p zk-tests --bin recipes-bench [-- --iterations N]`

use std::time::{Duration, Instant};

use zk_recipes::{Election, Mutex};
use zk_tests::{Server, ServerOptions};
use zk_tokio::Client;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{what}: p50 {:?}, p90 {:?}, p99 {:?} ({} samples)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        samples.len()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = std::env::args()
        .skip_while(|a| a != "--iterations")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let server = Server::standalone(&ServerOptions::default())?;
    let connect = server.connect_string();
    let client = Client::connect(&connect).await?;

    // Uncontended acquire + release.
    let mutex = Mutex::new(client.clone(), "/bench/uncontended");
    mutex.acquire().await?.release().await?; // creates the path
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        mutex.acquire().await?.release().await?;
        samples.push(started.elapsed());
    }
    report("uncontended acquire+release", samples);

    // Ten contenders, each with its own session, for five seconds.
    let mut contenders = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    for _ in 0..10 {
        let client = Client::connect(&connect).await?;
        let mutex = Mutex::new(client, "/bench/contended");
        contenders.push(tokio::spawn(async move {
            let mut taken = 0u64;
            while Instant::now() < deadline {
                match mutex.acquire().await {
                    Ok(guard) => {
                        taken += 1;
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
    println!(
        "10 contenders: {taken} acquisitions in {:?} = {:.0} acquisitions/s",
        started.elapsed(),
        taken as f64 / started.elapsed().as_secs_f64()
    );

    // Leader fail-over after the leader's session is closed.
    let mut samples = Vec::new();
    for round in 0..20 {
        let path = format!("/bench/election-{round}");
        let leader_client = Client::connect(&connect).await?;
        let leader = Election::new(leader_client.clone(), &path).join(&b"leader"[..]);
        leader.wait_leader().await?;
        let follower = Election::new(client.clone(), &path).join(&b"follower"[..]);
        // The follower is queued once it is listed.
        while Election::new(client.clone(), &path)
            .participants()
            .await?
            .len()
            < 2
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let started = Instant::now();
        leader_client.close().await;
        follower.wait_leader().await?;
        samples.push(started.elapsed());
        follower.close().await;
    }
    report("fail-over (leader's session closed -> next leads)", samples);
    client.close().await;
    Ok(())
}
