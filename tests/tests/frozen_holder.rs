//! A lock holder and a leader whose process is paused past the session timeout learn that they
//! may have lost the lock and the lead before they can act again: `LockGuard::is_held` and
//! `LeaderLatch::is_leader` are false at once after the pause, before the client's timers have
//! run, while another session takes over. The pause is the client's whole runtime blocked (a
//! current-thread tokio runtime whose thread sleeps): its driver, timers and tasks all stop, as
//! in a stopped process. Needs Apache ZooKeeper (a missing installation fails with the install
//! command).

use std::time::Duration;

use zk_recipes::{Election, LeadershipEvent, Mutex};
use zk_tests::{Server, ServerOptions};
use zk_tokio::Client;

#[test]
fn a_paused_holder_and_leader_learn_they_may_not_act() {
    let server =
        Server::standalone(&ServerOptions::fast_expiry()).unwrap_or_else(|e| panic!("{e}"));
    let connect = server.connect_string();
    let others = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the other sessions");
    let paused = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime to pause");
    paused.block_on(async {
        let client = Client::builder(&connect)
            .session_timeout(Duration::from_secs(2))
            .connect()
            .await
            .expect("connect");
        let guard = Mutex::new(client.clone(), "/frozen/lock")
            .acquire()
            .await
            .expect("acquire");
        let latch = Election::new(client.clone(), "/frozen/election").join(&b"paused"[..]);
        let token = latch.wait_leader().await.expect("leads");
        assert!(guard.is_held() && latch.is_leader());

        // The others queue behind it, on sessions of their own.
        let lock_waiter = others.spawn({
            let connect = connect.clone();
            async move {
                let other = Client::connect(&connect).await.expect("connect");
                let guard = Mutex::new(other.clone(), "/frozen/lock").acquire().await;
                (other, guard.expect("the other acquires").fencing_token())
            }
        });
        let follower = others.spawn({
            let connect = connect.clone();
            async move {
                let other = Client::connect(&connect).await.expect("connect");
                let latch = Election::new(other.clone(), "/frozen/election").join(&b"other"[..]);
                let token = latch.wait_leader().await.expect("the other leads");
                (other, latch, token)
            }
        });
        let election = Election::new(client.clone(), "/frozen/election");
        while election.participants().await.expect("participants").len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // Pause: nothing of this client runs until the servers have expired its session.
        let timeout = client.negotiated_timeout().expect("negotiated");
        std::thread::sleep(timeout + Duration::from_secs(2));

        // First thing after the pause, before any timer of this client has run:
        assert!(client.unconfirmed_for() > timeout);
        assert!(
            !guard.is_held(),
            "a paused holder must not believe it holds the lock"
        );
        assert!(
            !latch.is_leader(),
            "a paused leader must not believe it leads"
        );
        assert_eq!(latch.fencing_token(), None);

        // Then its events say so, and the others have taken over.
        assert_eq!(
            latch.next_event().await,
            Some(LeadershipEvent::Gained(token))
        );
        let lost = tokio::time::timeout(Duration::from_secs(30), latch.next_event()).await;
        assert_eq!(lost.expect("told in time"), Some(LeadershipEvent::Lost));
        let (_other, lock_token) = lock_waiter.await.expect("the waiter's task");
        assert!(lock_token > guard.fencing_token());
        let (_other, other_latch, other_token) = follower.await.expect("the follower's task");
        assert!(other_token > token && other_latch.is_leader());
    });
}
