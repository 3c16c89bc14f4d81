//! The same program under smol and under async-std.
//!
//! `cargo run -p zk-async-std --example async_std_smol_quick -- 127.0.0.1:2181`

use zk_async_std::{Client, CreateMode};

async fn tour(connect: &str, executor: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::connect(connect).await?;
    let path = format!("/quick-{executor}-{}", std::process::id());
    client
        .create(&path, &b"hello"[..], CreateMode::Ephemeral)
        .await?;
    let ((data, stat), watch) = client.get_data_and_watch(&path).await?;
    println!("[{executor}] read {data:?} version {}", stat.version);
    client.set_data(&path, &b"world"[..], None).await?;
    println!("[{executor}] watch: {:?}", watch.await);
    println!("[{executor}] closed: {:?}", client.close().await);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let connect = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2181".into());
    smol::block_on(tour(&connect, "smol"))?;
    async_std::task::block_on(tour(&connect, "async-std"))?;
    Ok(())
}
