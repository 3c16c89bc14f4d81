//! The demonstration: a local 3-node ZooKeeper ensemble, and a tour of the client on it,
//! including a leader kill that the session survives, with a lock and an election leadership
//! that survive it too (zk-recipes).
//!
//! `cargo run -p zk-tests --example demo` (or `scripts/demo.sh`, which installs ZooKeeper first).

use std::time::{Duration, Instant};

use zk_recipes::{Election, Mutex};
use zk_tests::{Ensemble, ServerOptions};
use zk_tokio::{ops, AddWatchMode, Client, CreateMode, SessionState, WatchEvent};

fn step(title: &str) {
    println!("\n== {title}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    step("Starting a 3-node ZooKeeper ensemble on loopback");
    let mut ensemble = Ensemble::start(3, &ServerOptions::default())?;
    let connect = ensemble.connect_string();
    println!("   ensemble up: {connect}");
    let leader = ensemble.wait_leader(Duration::from_secs(30))?;
    println!(
        "   leader is member {} ({})",
        leader + 1,
        ensemble.member(leader).client_addr()
    );

    step("Connecting (session timeout 6 s)");
    let client = Client::builder(&connect)
        .session_timeout(Duration::from_secs(6))
        .connect()
        .await?;
    let session = client.session_id();
    println!(
        "   session {session} on {:?}, negotiated timeout {:?}",
        client.current_host(),
        client.negotiated_timeout()
    );
    let mut states = client.state_watcher();

    step("Creating, reading and writing nodes");
    let root = format!("/demo-{}", std::process::id());
    client
        .create(&root, &b"config v1"[..], CreateMode::Persistent)
        .await?;
    let (data, stat) = client.get_data(&root).await?;
    println!(
        "   {root} = {:?} (version {})",
        String::from_utf8_lossy(&data),
        stat.version
    );
    let stat = client
        .set_data(&root, &b"config v2"[..], Some(stat.version))
        .await?;
    println!("   updated to version {}", stat.version);
    match client.set_data(&root, &b"stale"[..], Some(0)).await {
        Err(e) => println!("   a write with a stale version fails: {e}"),
        Ok(_) => println!("   unexpected: a stale write succeeded"),
    }

    step("Watches: one-shot and persistent-recursive");
    let ((_, _), one_shot) = client.get_data_and_watch(&root).await?;
    let mut recursive = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await?;
    client.set_data(&root, &b"config v3"[..], None).await?;
    println!("   one-shot watch fired: {:?}", one_shot.await);
    println!("   recursive watch: {:?}", recursive.next().await);

    step("Ephemeral and sequential nodes");
    let worker = client
        .create(
            &format!("{root}/worker-"),
            &b""[..],
            CreateMode::EphemeralSequential,
        )
        .await?;
    println!("   registered {}", worker.path);
    println!("   recursive watch: {:?}", recursive.next().await);
    let (children, _) = client.get_children(&root).await?;
    println!("   children of {root}: {children:?}");

    step("multi: all or nothing");
    let failing = ops::Multi::new()
        .create(ops::Create::new(format!("{root}/a"), &b""[..]))
        .check(&root, 0)
        .create(ops::Create::new(format!("{root}/b"), &b""[..]));
    match client.multi(failing).await {
        Err(e) => println!("   failed as expected: {e}"),
        Ok(r) => println!("   unexpected success: {r:?}"),
    }
    println!(
        "   {root}/a exists after the failed multi: {}",
        client.exists(&format!("{root}/a")).await?.is_some()
    );
    let results = client
        .multi(
            ops::Multi::new()
                .create(ops::Create::new(format!("{root}/a"), &b""[..]))
                .create(ops::Create::new(format!("{root}/b"), &b""[..])),
        )
        .await?;
    println!("   applied: {results:?}");
    while let Some(WatchEvent::Node { .. }) = recursive.try_next() {}

    step("Recipes: a lock and a leader election (zk-recipes)");
    let rival = Client::builder(&connect)
        .session_timeout(Duration::from_secs(6))
        .connect()
        .await?;
    let lock_path = format!("{root}-lock");
    let guard = Mutex::new(client.clone(), &lock_path).acquire().await?;
    println!("   lock held, fencing token {:?}", guard.fencing_token());
    let waiting = {
        let mutex = Mutex::new(rival.clone(), &lock_path);
        tokio::spawn(async move { mutex.acquire().await })
    };
    let election = format!("{root}-election");
    let latch = Election::new(client.clone(), &election).join(&b"demo"[..]);
    let leading = latch.wait_leader().await?;
    let rival_latch = Election::new(rival.clone(), &election).join(&b"rival"[..]);
    println!("   leading the election, token {leading:?}; a rival waits for the lock and the lead");

    step("Killing the leader (every member drops its clients during the election)");
    let leader = ensemble.leader().ok_or("no leader")?;
    println!(
        "   session on {:?}; killing the leader, member {} ({})",
        client.current_host(),
        leader + 1,
        ensemble.member(leader).client_addr()
    );
    let killed_at = Instant::now();
    ensemble.kill(leader)?;
    while let Some(state) = states.changed().await {
        println!("   state: {state:?} after {:?}", killed_at.elapsed());
        if state == SessionState::Connected {
            break;
        }
    }
    let new_leader = ensemble.wait_leader(Duration::from_secs(30))?;
    println!("   new leader: member {}", new_leader + 1);
    println!(
        "   same session {} (was {session}) now on {:?}",
        client.session_id(),
        client.current_host()
    );
    client.set_data(&root, &b"config v4"[..], None).await?;
    while let Some(event) = recursive.next().await {
        println!("   persistent watch after failover: {event:?}");
        if matches!(event, WatchEvent::Node { .. }) {
            break;
        }
    }
    let (data, _) = client.get_data(&root).await?;
    println!("   {root} = {:?}", String::from_utf8_lossy(&data));
    println!(
        "   the lock survived the failover: held {}, token {:?}; still leading: {}",
        guard.is_held(),
        guard.fencing_token(),
        latch.is_leader()
    );
    guard.release().await?;
    let next = waiting.await??;
    println!(
        "   released; the rival holds the lock now (token {:?})",
        next.fencing_token()
    );
    next.release().await?;
    latch.close().await;
    let token = rival_latch.wait_leader().await?;
    let listed = Election::new(rival.clone(), &election)
        .participants()
        .await?;
    println!(
        "   stepped down; the rival leads (token {token:?}), participants: {:?}",
        listed
            .iter()
            .map(|p| String::from_utf8_lossy(&p.id).into_owned())
            .collect::<Vec<_>>()
    );
    rival_latch.close().await;
    rival.close().await;

    step("Closing: the ephemeral node goes with the session");
    let observer = Client::connect(&connect).await?;
    println!(
        "   before close, {} exists: {}",
        worker.path,
        observer.exists(&worker.path).await?.is_some()
    );
    println!("   close: {:?}", client.close().await);
    println!(
        "   after close, {} exists: {}",
        worker.path,
        observer.exists(&worker.path).await?.is_some()
    );
    for child in ["a", "b"] {
        observer.delete(&format!("{root}/{child}"), None).await?;
    }
    observer.delete(&root, None).await?;
    zk_recipes::delete_all(&observer, &lock_path).await?;
    zk_recipes::delete_all(&observer, &election).await?;
    observer.close().await;

    step("Stopping the ensemble");
    drop(ensemble);
    println!("   done");
    Ok(())
}
