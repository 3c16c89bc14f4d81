//! zk-async-std has no driver task: the tasks awaiting replies drive the session, and a
//! background thread serves what they leave. These tests check, against a real ZooKeeper, that
//! the session never stalls whatever the awaiting tasks do.
//!
//! Needs Apache ZooKeeper: a missing installation fails with the install command.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use zk_async_std::{
    AddWatchMode, AsyncIo, Client, ClientBuilder, CreateMode, WatchEvent, WatchStream,
};
use zk_tests::conformance::shared_server;

/// Generous for a step that takes milliseconds, short of the stalled session's next ping.
const STEP: Duration = Duration::from_secs(4);

/// A waker that does nothing: a task that never polls again.
struct Deaf;

impl Wake for Deaf {
    fn wake(self: Arc<Self>) {}
}

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(&Waker::from(Arc::new(Deaf))))
}

/// Waits for `fut` at most `within`.
async fn within<F: Future>(within: Duration, what: &str, fut: F) -> F::Output {
    let timer = async {
        smol::Timer::after(within).await;
        panic!("{what}: nothing within {within:?}");
    };
    smol::future::or(fut, timer).await
}

/// The stream's next event, waited for on another thread with the blocking receive, which
/// leaves the session's driving to others (awaiting the stream would drive it); the stream
/// comes back with it.
async fn next_without_driving(mut events: WatchStream) -> (WatchEvent, WatchStream) {
    smol::unblock(move || match events.recv_timeout(Some(STEP)) {
        Ok(Some(event)) => (event, events),
        other => panic!("the watch event: {other:?} within {STEP:?}"),
    })
    .await
}

/// A client of the shared server whose session timeout is long, so that its pings (every 10 s)
/// are not what gets a stalled session going again within [`STEP`]; and a second client.
async fn long_timeout_client_and_another() -> (Client, Client) {
    let connect = shared_server().connect_string();
    let client = ClientBuilder::new(&connect, AsyncIo::default())
        .session_timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect");
    let other = Client::connect(&connect)
        .await
        .expect("connect the other client");
    (client, other)
}

/// An ephemeral node named after `what` holding "0", and a persistent watch on it.
async fn node_with_a_persistent_watch(client: &Client, what: &str) -> (String, WatchStream) {
    let path = format!("/async-io-{what}-{}", std::process::id());
    client
        .create(&path, &b"0"[..], CreateMode::Ephemeral)
        .await
        .expect("create");
    let events = client
        .add_watch(&path, AddWatchMode::Persistent)
        .await
        .expect("add_watch");
    (path, events)
}

#[test]
fn a_call_polled_once_and_then_left_does_not_stall_the_session() {
    smol::block_on(async {
        let (client, writer) = long_timeout_client_and_another().await;
        let (path, mut events) = node_with_a_persistent_watch(&client, "stalled-leader").await;

        // Polled once by a task that will never poll it again: the call's task led the
        // session's wake-ups, and its reply's wake-up goes to a task that ignores it.
        let mut abandoned = pin!(client.get_data(&path));
        assert!(poll_once(abandoned.as_mut()).is_pending());

        // Only the background thread can now read what arrives (the stream is read without
        // awaiting it, which would drive the session): the stream must still get every
        // change, and other calls their replies.
        for round in 1..=3u8 {
            writer
                .set_data(&path, vec![b'0' + round], None)
                .await
                .expect("set_data");
            let (event, stream) = next_without_driving(events).await;
            events = stream;
            assert!(
                matches!(event, WatchEvent::Node { .. }),
                "round {round}: {event:?}"
            );
        }
        let (data, _) = within(STEP, "get_data", client.get_data(&path))
            .await
            .expect("get_data");
        assert_eq!(&data[..], b"3");
        // The abandoned call completed meanwhile (with the data of whichever write the server
        // ordered it after: the two clients' requests race).
        within(STEP, "the abandoned call", abandoned)
            .await
            .expect("abandoned get_data");
        client.close().await;
        writer.close().await;
    });
}

#[test]
fn a_watch_polled_once_and_then_left_does_not_stall_the_session() {
    smol::block_on(async {
        let (client, writer) = long_timeout_client_and_another().await;
        let (path, events) = node_with_a_persistent_watch(&client, "stalled-watch").await;
        let (_, mut watch) = client.get_data_and_watch(&path).await.expect("get_data");

        // Awaited once by a task that will never poll it again: the watch's task led the
        // session's wake-ups, and the event's wake-up goes to a task that ignores it.
        assert!(poll_once(std::pin::Pin::new(&mut watch)).is_pending());

        writer
            .set_data(&path, &b"1"[..], None)
            .await
            .expect("set_data");
        // Only the background thread can read the events (both are waited for with blocking
        // receives on other threads): both arrive.
        let (event, _events) = next_without_driving(events).await;
        assert!(matches!(event, WatchEvent::Node { .. }), "{event:?}");
        let fired = smol::unblock(move || watch.wait(Some(STEP)))
            .await
            .expect("the abandoned watch's event within STEP");
        assert!(matches!(fired, WatchEvent::Node { .. }), "{fired:?}");
        // And calls still get their replies.
        let (data, _) = within(STEP, "get_data", client.get_data(&path))
            .await
            .expect("get_data");
        assert_eq!(&data[..], b"1");
        client.close().await;
        writer.close().await;
    });
}

#[test]
fn a_call_made_and_not_awaited_is_still_sent() {
    smol::block_on(async {
        let (client, observer) = long_timeout_client_and_another().await;
        let path = format!("/async-io-not-awaited-{}", std::process::id());
        // Requests are written by whoever next waits for a reply, so that requests made
        // together share a write; this one is made and kept, and the task waits for nothing
        // of the client's.
        let kept = client.create(&path, &b"x"[..], CreateMode::Ephemeral);
        let appeared = async {
            while observer.exists(&path).await.expect("exists").is_none() {
                smol::Timer::after(Duration::from_millis(20)).await;
            }
        };
        within(STEP, "the node created by the kept call", appeared).await;
        kept.await.expect("create");
        client.close().await;
        observer.close().await;
    });
}

#[test]
fn a_task_on_another_thread_gets_its_reply_while_this_one_drives() {
    let connect = shared_server().connect_string();
    let client = smol::block_on(Client::connect(&connect)).expect("connect");
    let path = format!("/async-io-two-threads-{}", std::process::id());
    smol::block_on(client.create(&path, &b"x"[..], CreateMode::Ephemeral)).expect("create");
    // Two threads, each with its own block_on, keep calls in flight on one session: replies
    // read by one thread's drive reach tasks on the other.
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (client, path) = (client.clone(), path.clone());
            std::thread::spawn(move || {
                smol::block_on(async {
                    for _ in 0..2000 {
                        let (data, _) = client.get_data(&path).await.expect("get_data");
                        assert_eq!(&data[..], b"x");
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a calling thread panicked");
    }
    smol::block_on(client.close());
}
