//! The shortest tour of the blocking API, on plain threads.
//!
//! `cargo run -p zk-blocking --example blocking_quick -- 127.0.0.1:2181`

use std::time::Duration;

use zk_blocking::{AddWatchMode, Client, CreateMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let connect = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2181".into());
    let client = Client::connect(&connect)?;
    println!("session {}", client.session_id());
    let path = format!("/blocking-quick-{}", std::process::id());
    let created = client.create(&path, &b"hello"[..], CreateMode::Ephemeral)?;
    println!("created {}", created.path);
    let mut events = client.add_watch(&path, AddWatchMode::Persistent)?;
    let ((data, stat), watch) = client.get_data_and_watch(&path)?;
    println!("read {data:?} version {}", stat.version);
    // Another thread writes; this one waits for the watches.
    let writer = client.clone();
    let p = path.clone();
    std::thread::spawn(move || writer.set_data(&p, &b"world"[..], None))
        .join()
        .expect("writer thread")?;
    println!(
        "one-shot watch: {:?}",
        watch.wait(Some(Duration::from_secs(5)))
    );
    println!(
        "persistent watch: {:?}",
        events.recv_timeout(Some(Duration::from_secs(5)))
    );
    println!("closed: {:?}", client.close());
    Ok(())
}
