//! `zk_blocking::Client::submit`: the blocking client's way to keep many requests in flight on
//! one thread, against a real ZooKeeper.
//!
//! Needs Apache ZooKeeper: a missing installation fails with the install command.

use std::time::Duration;

use zk_blocking::ops::{Create, CreateError, Delete, GetChildren, GetData, GetDataError};
use zk_blocking::{Client, CommonError, CreateMode};
use zk_tests::conformance::shared_server;

fn client() -> Client {
    Client::connect(&shared_server().connect_string()).expect("connect")
}

#[test]
fn submitted_calls_are_applied_in_call_order_and_each_gets_its_own_result() {
    let client = client();
    let root = format!("/blocking-submit-order-{}", std::process::id());
    client
        .create(&root, Vec::new(), CreateMode::Persistent)
        .expect("create root");

    // Every create is on the wire before the first result is waited for.
    let calls: Vec<_> = (0..300)
        .map(|i| {
            let create = Create::new(format!("{root}/n-"), vec![i as u8])
                .mode(CreateMode::PersistentSequential);
            client.submit(create)
        })
        .collect();
    let mut last = None;
    for (i, call) in calls.into_iter().enumerate() {
        let created = call.wait(Some(Duration::from_secs(10))).expect("create");
        // Sequence numbers follow call order.
        assert!(
            last.as_ref().is_none_or(|prev| prev < &created.path),
            "call {i} created {} after {last:?}",
            created.path
        );
        let (data, _) = client.get_data(&created.path).expect("read back");
        assert_eq!(
            &data[..],
            &[i as u8],
            "call {i}'s node holds call {i}'s data"
        );
        last = Some(created.path);
    }

    // Results that are not waited for are discarded, not their requests.
    let missing = client.submit(GetData::new(format!("{root}/missing")));
    for child in client.get_children(&root).expect("list").0 {
        drop(client.submit(Delete::new(format!("{root}/{child}"))));
    }
    assert_eq!(
        missing.wait(None).unwrap_err(),
        GetDataError::NoNode,
        "an error reply reaches its call"
    );
    let (children, _) = client
        .submit(GetChildren::new(&root))
        .wait(None)
        .expect("list after deletes");
    assert!(
        children.is_empty(),
        "dropped calls were still applied: {children:?}"
    );
    client.delete(&root, None).expect("delete root");
    client.close();
}

/// Submits an ephemeral create, lets `before_waiting` run, then checks from another session
/// that the node appears within `within` although nobody waits for the call.
fn submitted_create_appears(name: &str, before_waiting: impl FnOnce(&Client), within: Duration) {
    let (client, observer) = (client(), client());
    let path = format!("/blocking-submit-{name}-{}", std::process::id());
    let call = client.submit(Create::new(&path, &b"x"[..]).mode(CreateMode::Ephemeral));
    before_waiting(&client);
    let deadline = std::time::Instant::now() + within;
    while observer.exists(&path).expect("exists").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the submitted create did not arrive within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    call.wait(None).expect("create");
    client.close();
    observer.close();
}

#[test]
fn a_flushed_call_is_sent_without_being_waited_for() {
    submitted_create_appears("flushed", Client::flush, Duration::from_secs(10));
}

#[test]
fn a_submitted_call_nobody_flushes_is_written_by_the_io_thread_within_seconds() {
    // Documented: within about a second (the I/O thread's longest wait).
    submitted_create_appears("unflushed", |_| {}, Duration::from_secs(5));
}

#[test]
fn a_call_submitted_after_close_fails_with_closed() {
    let client = client();
    client.close();
    let result = client
        .submit(Create::new("/never", Vec::new()))
        .wait(Some(Duration::from_secs(5)));
    assert_eq!(
        result.unwrap_err(),
        CreateError::Common(CommonError::Closed)
    );
}

#[test]
fn threads_calling_at_once_each_get_every_reply() {
    // Whoever waits alone reads the socket itself; with several waiting, the I/O thread reads.
    // Threads coming and going at random keep handing the socket over: no call may stall.
    let client = client().with_call_timeout(Some(Duration::from_secs(20)));
    let path = format!("/blocking-many-threads-{}", std::process::id());
    client
        .create(&path, &b"x"[..], CreateMode::Ephemeral)
        .expect("create");
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let (client, path) = (client.clone(), path.clone());
            std::thread::spawn(move || {
                for i in 0..400u64 {
                    let (data, _) = client.get_data(&path).expect("get_data");
                    assert_eq!(&data[..], b"x");
                    // Now and then a pause, so that the number of waiters keeps changing.
                    if (i * 7 + t) % 13 == 0 {
                        std::thread::sleep(Duration::from_millis(1 + (i + t) % 3));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a calling thread failed");
    }
    client.close();
}
