//! Connects, writes, reads with a watch, and closes: the shortest tour of the API.
//!
//! `cargo run -p zk-tokio --example tokio_quick -- 127.0.0.1:2181`

use zk_tokio::{AddWatchMode, Client, CreateMode, WatchEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let connect = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2181".into());
    let client = Client::connect(&connect).await?;
    println!("session {}", client.session_id());
    let path = format!("/quick-{}", std::process::id());
    let created = client
        .create(&path, &b"hello"[..], CreateMode::Ephemeral)
        .await?;
    println!("created {}", created.path);
    let mut stream = client.add_watch(&path, AddWatchMode::Persistent).await?;
    let ((data, stat), watch) = client.get_data_and_watch(&path).await?;
    println!("read {data:?} version {}", stat.version);
    client
        .set_data(&path, &b"world"[..], Some(stat.version))
        .await?;
    println!("one-shot watch: {:?}", watch.await);
    println!("persistent watch: {:?}", stream.next().await);
    if let Some(WatchEvent::Node { .. }) = stream.try_next() {
        println!("unexpected second event");
    }
    println!("closed: {:?}", client.close().await);
    Ok(())
}
