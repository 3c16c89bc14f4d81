//! The conformance suite: one list of scenarios, written once against [`Api`] and
//! [`Adapter`], run against every adapter —
//! `zk-tokio` on tokio ([`TokioAdapter`]), `zk-async-std` under async-std
//! ([`AsyncStdAdapter`]) and under smol ([`SmolAdapter`]), and `zk-blocking`
//! ([`BlockingAdapter`]).
//!
//! Each adapter has a tiny test file (`tests/conformance_*.rs`) that expands
//! [`conformance_tests!`](crate::conformance_tests) into one `#[test]` per scenario, named
//! `module::scenario`, e.g. `watches::recursive_watch_sees_descendants_never_children_changed`.
//! A failing scenario panics with `conformance[<adapter>] <module>::<scenario>: <why>`.
//!
//! Servers: scenarios that do not disturb their server share one standalone server per test
//! binary ([`shared_server`], started on first use and killed by the harness's watchdog when
//! the test process exits), each under a root node of its own. Scenarios that stop servers
//! start dedicated ones (3-member ensembles, or a standalone server), one at a time per
//! process ([`ensemble_slot`]). A server that cannot be started fails the scenario with the
//! harness's error, which names the install command.
//!
//! Waiting: every wait is bounded and event-driven — a reply, a watch event, a state change.
//! Even server-side effects on timers (TTL and container nodes reaped, ephemerals deleted at
//! expiry) are awaited through an exists watch on the node, with generous bounds. Sleeps are
//! used only where no event exists: to let a blocking call spawned on a thread enter its call.

mod adapter;
mod api;
pub mod scenarios;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use zk_client::proto::EventType;
use zk_client::{SessionState, StateWatcher, Watch, WatchEvent, WatchStream};

pub use adapter::{
    race, Adapter, AsyncStdAdapter, BlockingAdapter, Connect, SmolAdapter, Task, TokioAdapter,
    BLOCKING_CALL_TIMEOUT,
};
pub use api::Api;

use crate::{Server, ServerOptions};

/// How long a scenario may run before it fails.
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(180);

/// How long to wait for something that must happen soon (an event, a state change).
pub const EVENT_WAIT: Duration = Duration::from_secs(15);

/// How long to wait for a server-side effect that follows a timer (TTL and container reaping,
/// elections, reconnections).
pub const SLOW_WAIT: Duration = Duration::from_secs(45);

/// The options of the shared standalone server: fast ticks (sessions may be short), TTL nodes
/// enabled, containers reaped every 500 ms.
pub fn shared_server_options() -> ServerOptions {
    ServerOptions::fast_expiry()
}

/// The standalone server shared by the scenarios of this test process, started on first use.
///
/// It lives in a `static`, so it is never dropped: the harness's watchdog kills the JVM when
/// the test process exits and closes its end of the watchdog's lifeline pipe (see
/// [`crate::process`]). Panics with the harness's error (which names the install command) if
/// the server cannot be started.
pub fn shared_server() -> &'static Server {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER
        .get_or_init(|| Server::standalone(&shared_server_options()).map_err(|e| e.to_string()))
    {
        Ok(server) => server,
        Err(e) => panic!("cannot start the shared ZooKeeper server: {e}"),
    }
}

static ENSEMBLE_BUSY: Mutex<bool> = Mutex::new(false);
static ENSEMBLE_FREED: Condvar = Condvar::new();

/// The right to run an ensemble; see [`ensemble_slot`]. Released on drop (also on a panic).
#[derive(Debug)]
pub struct EnsembleSlot(());

impl Drop for EnsembleSlot {
    fn drop(&mut self) {
        *ENSEMBLE_BUSY.lock().unwrap_or_else(|e| e.into_inner()) = false;
        ENSEMBLE_FREED.notify_one();
    }
}

/// Serialises the scenarios that start dedicated servers (ensembles of three JVMs, or a
/// standalone server to stop and restart) within one test process, so that at most one of
/// them competes for the machine's cores at a time: blocks until no other scenario holds the
/// slot. Hold it for the whole scenario.
pub fn ensemble_slot() -> EnsembleSlot {
    let mut busy = ENSEMBLE_BUSY.lock().unwrap_or_else(|e| e.into_inner());
    while *busy {
        busy = ENSEMBLE_FREED.wait(busy).unwrap_or_else(|e| e.into_inner());
    }
    *busy = true;
    EnsembleSlot(())
}

/// A boxed close of a tracked client.
type Closer = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = SessionState>>> + Send>;

/// What a scenario gets: its names, a root node of its own on the shared server, and clients
/// that are closed when it ends.
#[derive(Clone)]
pub struct Env {
    inner: Arc<EnvInner>,
}

struct EnvInner {
    adapter: &'static str,
    scenario: &'static str,
    root: String,
    tracked: Mutex<Vec<Closer>>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("adapter", &self.inner.adapter)
            .field("scenario", &self.inner.scenario)
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl Env {
    fn new(adapter: &'static str, scenario: &'static str) -> Env {
        let root = format!("/{adapter}.{}", scenario.replace("::", "."));
        Env {
            inner: Arc::new(EnvInner {
                adapter,
                scenario,
                root,
                tracked: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The adapter's name.
    pub fn adapter(&self) -> &'static str {
        self.inner.adapter
    }

    /// The scenario's name, `module::scenario`.
    pub fn scenario(&self) -> &'static str {
        self.inner.scenario
    }

    /// The scenario's root node on the shared server (created by [`Env::client`]).
    pub fn root(&self) -> &str {
        &self.inner.root
    }

    /// `root/relative`.
    pub fn path(&self, relative: &str) -> String {
        format!("{}/{relative}", self.inner.root)
    }

    /// The shared server's connect string (starting the server on first use).
    pub fn connect_string(&self) -> String {
        shared_server().connect_string()
    }

    /// Default options for the shared server.
    pub fn options(&self) -> Connect {
        Connect::new(self.connect_string())
    }

    /// A client of the shared server with default options, closed when the scenario ends;
    /// makes sure the scenario's root node exists.
    pub async fn client<A: Adapter>(&self) -> A::Client {
        let client = self.client_with::<A>(self.options()).await;
        match client
            .create(self.root(), &b""[..], Default::default())
            .await
        {
            Ok(_) => {}
            Err(e) if *e.kind() == zk_client::ops::CreateError::NodeExists => {}
            Err(e) => panic!("creating the scenario root {}: {e:?}", self.root()),
        }
        client
    }

    /// A client with `options`, closed when the scenario ends.
    pub async fn client_with<A: Adapter>(&self, options: Connect) -> A::Client {
        let client = connect::<A>(&options).await;
        self.track::<A>(&client);
        client
    }

    /// Closes `client` when the scenario ends (keeps a clone until then).
    pub fn track<A: Adapter>(&self, client: &A::Client) {
        let client = client.clone();
        let closer: Closer = Box::new(move || Box::pin(async move { client.close().await }));
        self.inner
            .tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(closer);
    }

    async fn close_tracked(&self) {
        let closers =
            std::mem::take(&mut *self.inner.tracked.lock().unwrap_or_else(|e| e.into_inner()));
        for close in closers {
            close().await;
        }
    }
}

/// Runs one scenario on adapter `A`: a fresh [`Env`], the scenario bounded by
/// [`SCENARIO_LIMIT`], then its tracked clients closed. A failure panics with the adapter's
/// and the scenario's names.
pub fn run<A, F, Fut>(scenario: &'static str, body: F)
where
    A: Adapter,
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()>,
{
    let env = Env::new(A::NAME, scenario);
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        A::block_on(async {
            let finished = A::timeout(SCENARIO_LIMIT, body(env.clone())).await;
            env.close_tracked().await;
            if finished.is_none() {
                panic!("did not finish within {SCENARIO_LIMIT:?}");
            }
        })
    }));
    if let Err(payload) = outcome {
        let why = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(a panic without a message)");
        panic!(
            "conformance[{}] {scenario} failed after {:?}: {why}",
            A::NAME,
            started.elapsed()
        );
    }
}

/// Connects a client with `options`, panicking with the reason if it cannot.
pub async fn connect<A: Adapter>(options: &Connect) -> A::Client {
    match A::connect(options).await {
        Ok(client) => client,
        Err(e) => panic!(
            "[{}] connecting to {} failed: {e}",
            A::NAME,
            options.connect_string
        ),
    }
}

/// A node event, as watches report it.
pub fn node_event(event_type: EventType, path: &str) -> WatchEvent {
    WatchEvent::Node {
        event_type,
        path: path.to_owned(),
    }
}

/// Waits up to [`EVENT_WAIT`] for a one-shot watch to fire; panics if it does not.
pub async fn expect_fired<A: Adapter>(watch: &mut Watch, what: &str) -> WatchEvent {
    match A::wait_watch(watch, EVENT_WAIT).await {
        Some(event) => event,
        None => panic!(
            "[{}] {what}: the watch did not fire within {EVENT_WAIT:?}",
            A::NAME
        ),
    }
}

/// Waits up to `within` for the next event of `stream`; panics if none comes or the stream
/// ended.
pub async fn expect_next<A: Adapter>(
    stream: &mut WatchStream,
    within: Duration,
    what: &str,
) -> WatchEvent {
    match A::next_event(stream, within).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("[{}] {what}: the watch stream ended", A::NAME),
        Err(_) => panic!("[{}] {what}: no event within {within:?}", A::NAME),
    }
}

/// Waits up to `within` for the next event of `stream` that is not
/// [`WatchEvent::PossiblyMissedEvents`]; returns it and whether such a notice came first.
pub async fn expect_next_node_event<A: Adapter>(
    stream: &mut WatchStream,
    within: Duration,
    what: &str,
) -> (WatchEvent, bool) {
    let mut warned = false;
    loop {
        match expect_next::<A>(stream, within, what).await {
            WatchEvent::PossiblyMissedEvents => warned = true,
            other => return (other, warned),
        }
    }
}

/// Ends `client`'s session as the server expires one, seen from the client: another client
/// resumes the session and closes it, and the server then tells `client` it expired. The
/// kicked client may reconnect (taking the session back) before the close goes through; then
/// it tries again, up to three times. Returns the states `states` (the client's) saw, the last
/// one `Expired` when it worked.
pub async fn expire_by_twin<A: Adapter>(
    env: &Env,
    client: &A::Client,
    states: &mut StateWatcher,
) -> Vec<SessionState> {
    let resume = env
        .options()
        .resume(client.session_id(), client.session_password())
        .connect_wait(EVENT_WAIT);
    let mut seen = Vec::new();
    for attempt in 1..=3 {
        match A::connect(&resume).await {
            Ok(twin) => {
                assert_eq!(
                    twin.session_id(),
                    client.session_id(),
                    "resume takes over the same session"
                );
                assert_eq!(twin.close().await, SessionState::Closed);
            }
            Err(zk_client::ConnectError::Ended(SessionState::Expired)) => {}
            Err(e) => panic!("resuming the session failed: {e}"),
        }
        let deadline = Instant::now() + EVENT_WAIT;
        while let Ok(Some(state)) =
            A::next_state(states, deadline.saturating_duration_since(Instant::now())).await
        {
            seen.push(state);
            if state == SessionState::Expired {
                if attempt > 1 {
                    eprintln!(
                        "[{}] expiry took {attempt} resume-and-close attempts",
                        A::NAME
                    );
                }
                return seen;
            }
        }
    }
    seen
}

/// Collects state changes until one satisfies `pred` (returned last), waiting at most
/// `within` in total; panics with the states seen if it does not come.
pub async fn wait_for_state<A: Adapter>(
    states: &mut StateWatcher,
    within: Duration,
    what: &str,
    pred: impl Fn(SessionState) -> bool,
) -> Vec<SessionState> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match A::next_state(states, left).await {
            Ok(Some(state)) => {
                seen.push(state);
                if pred(state) {
                    return seen;
                }
            }
            Ok(None) => panic!(
                "[{}] {what}: the state changes ended after {seen:?} (now {:?})",
                A::NAME,
                states.current()
            ),
            Err(_) => panic!(
                "[{}] {what}: not reached within {within:?}; states seen {seen:?}",
                A::NAME
            ),
        }
    }
}

/// Waits up to `within` until `client` has at least `calls` calls outstanding (submitted and
/// not completed), checking every 10 ms; panics if it does not come.
pub async fn wait_for_calls_outstanding<A: Adapter>(
    client: &A::Client,
    calls: usize,
    within: Duration,
    what: &str,
) {
    let deadline = Instant::now() + within;
    while client.calls_outstanding() < calls {
        assert!(
            Instant::now() < deadline,
            "[{}] {what}: {} calls outstanding after {within:?}, expected {calls}",
            A::NAME,
            client.calls_outstanding()
        );
        // No event marks a request written; the session is read every 10 ms until it is.
        A::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `fut` once: its output if it is ready at once.
pub fn now_or_never<F: Future>(fut: F) -> Option<F::Output> {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// Expands into one `#[test]` per conformance scenario for the adapter type given (one of
/// [`TokioAdapter`], [`AsyncStdAdapter`], [`SmolAdapter`], [`BlockingAdapter`], by full path
/// or imported). Tests are grouped in modules named as the scenario modules.
///
/// ```ignore
/// zk_tests::conformance_tests!(zk_tests::conformance::TokioAdapter);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($adapter:ty) => {
        $crate::__conformance_test_fns! {
            ($adapter)
            nodes {
                create_persistent_returns_path_and_stat,
                create_sequential_names_carry_a_ten_digit_counter,
                create_ephemeral_is_owned_by_the_session,
                create_container_is_reaped_after_its_last_child_is_deleted,
                create_ttl_node_is_reaped_after_its_ttl,
                create_fails_with_node_exists_or_missing_parent,
                create_under_an_ephemeral_fails_with_no_children_for_ephemerals,
                create_with_an_auth_acl_without_identity_fails_with_invalid_acl,
                invalid_arguments_fail_before_anything_is_sent,
                delete_reports_no_node_bad_version_and_not_empty,
                exists_returns_the_stat_or_none,
                get_data_of_a_missing_node_fails_with_no_node,
                set_data_checks_the_version,
                get_children_lists_names_and_stat,
                acl_is_read_and_replaced_with_version_checks,
                sync_returns_the_path_and_get_config_reads_the_config_node,
                get_ephemerals_lists_this_sessions_ephemerals_under_a_prefix,
                get_all_children_number_counts_every_descendant,
                null_data_is_told_apart_from_empty,
            }
            multi {
                multi_applies_every_op_and_returns_each_result,
                multi_failure_names_the_failing_op_and_applies_nothing,
                multi_read_returns_each_reads_own_outcome,
            }
            watches {
                data_watch_fires_exactly_once,
                exists_watch_on_a_missing_node_fires_node_created,
                children_watch_fires_once_on_a_child_change,
                persistent_watch_keeps_firing_for_data_and_children,
                recursive_watch_sees_descendants_never_children_changed,
                one_shot_watch_beside_a_persistent_one_leaves_it_firing,
                one_shot_watches_beside_a_recursive_one_and_after_it,
                removing_data_watches_leaves_a_persistent_watch_firing,
                remove_watches_delivers_watch_removed_events,
                check_watches_reports_no_watcher_when_none_is_set,
                dropping_the_last_watch_handle_removes_the_server_watch,
                slow_consumer_of_a_watch_stream_cannot_stall_the_session,
            }
            session {
                chroot_applies_to_paths_in_and_out_and_to_watches,
                digest_auth_guards_acl_protected_nodes,
                who_am_i_shows_the_digest_identity,
                ephemerals_vanish_after_close_seen_from_another_client,
                close_returns_closed_and_later_calls_fail_at_once,
                dropping_the_last_handle_closes_the_session,
                clones_share_one_session,
                state_observer_sees_connecting_connected_then_closed,
                real_expiry_is_terminal_and_never_creates_a_new_session,
                call_order_is_wire_order,
                dropped_futures_do_not_disturb_the_session,
                calls_while_disconnected_wait_or_fail_fast,
            }
            recipes {
                building_blocks_create_parents_and_delete_subtrees,
                protected_creates_and_retries,
                protected_create_recovers_a_node_whose_reply_was_lost,
                mutex_is_fair_and_each_release_wakes_one_waiter,
                mutex_holder_learns_the_lock_is_lost_with_its_session,
                read_write_lock_shares_reads_and_orders_writes,
                semaphore_grants_at_most_its_leases,
                leader_latch_elects_one_leader_and_hands_over,
                counter_counts_every_concurrent_increment,
                barriers_hold_and_release_their_participants,
            }
            cache {
                tree_cache_matches_a_fresh_walk_after_random_writes,
                node_and_children_caches_follow_and_end_with_the_session,
                tree_cache_under_chaos_matches_a_fresh_walk,
                service_discovery_registers_discovers_and_registers_again,
            }
            chaos {
                mutex_under_chaos_keeps_one_holder,
                election_under_chaos_keeps_one_leader,
            }
            faults {
                killed_server_fails_in_flight_requests_and_session_moves_on,
                frozen_server_is_detected_by_the_read_timeout,
                read_only_server_serves_reads_and_refuses_writes,
                update_hosts_moves_the_session_off_a_removed_member_and_keeps_its_watches,
                a_following_client_moves_off_a_member_removed_by_reconfig,
            }
        }
    };
}

/// Runs each async scenario `fn name<A: Adapter>()` of the calling test file once per
/// adapter, as a `#[test]` in a module per adapter (`on_tokio`, `on_async_std`, `on_smol`,
/// `on_blocking`), for test files whose scenarios need no [`Env`] (a server of their own).
#[macro_export]
macro_rules! for_every_adapter {
    ($($scenario:ident),* $(,)?) => {
        $crate::for_every_adapter!(@on on_tokio, TokioAdapter, $($scenario),*);
        $crate::for_every_adapter!(@on on_async_std, AsyncStdAdapter, $($scenario),*);
        $crate::for_every_adapter!(@on on_smol, SmolAdapter, $($scenario),*);
        $crate::for_every_adapter!(@on on_blocking, BlockingAdapter, $($scenario),*);
    };
    (@on $module:ident, $adapter:ident, $($scenario:ident),*) => {
        mod $module {
            use $crate::conformance::Adapter as _;
            $(
                #[test]
                fn $scenario() {
                    $crate::conformance::$adapter::block_on(
                        super::$scenario::<$crate::conformance::$adapter>(),
                    );
                }
            )*
        }
    };
}

/// The expansion of [`conformance_tests!`]; not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test_fns {
    (($adapter:ty) $( $module:ident { $( $name:ident ),* $(,)? } )*) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[test]
                    fn $name() {
                        $crate::conformance::run::<$adapter, _, _>(
                            concat!(stringify!($module), "::", stringify!($name)),
                            $crate::conformance::scenarios::$module::$name::<$adapter>,
                        );
                    }
                )*
            }
        )*
    };
}
