//! The hostile-server suite: a scripted fake ZooKeeper ([`server::FakeServer`]) that breaks
//! the protocol in every way a broken, malicious or overloaded server could — garbage instead
//! of a handshake, impossible lengths, replies out of order, bodies that do not decode,
//! notification floods, silence, bytes trickled one at a time — and cases that state what the
//! client must do about each, written once against the conformance [`Adapter`] and run on
//! every adapter.
//!
//! What every case asserts, beyond its own outcome:
//!
//! * every call it makes completes, with the error kind the case names, within a bound;
//! * where the client must detect something by a timer (read timeout, connect timeout,
//!   client-side expiry, call deadline), when it did, with generous bounds;
//! * the peak of the live heap (counted by [`measure::CountingAlloc`], which each hostile test
//!   binary installs as its global allocator) stays under a bound: [`MEMORY_BOUND`] for every
//!   case, tighter ones where the case is about memory;
//! * no thread panicked: not the client's, not the fake server's (a script's assertion is a
//!   panic on a server thread), not a runtime's;
//! * the client never reconnected faster than its back-off allows: consecutive connections to
//!   a fake server are at least [`MIN_RECONNECT_GAP`] apart (the cases' back-off waits 20 ms
//!   after every connection that did not last; cases that ask for less say so with
//!   [`allow_reconnect_gap`]), which bounds the reconnections per second of every case.
//!
//! Each adapter has a tiny test file (`tests/hostile_*.rs`) that installs the allocator and
//! expands [`hostile_tests!`](crate::hostile_tests) into one `#[test]` per case, named
//! `group::case`, e.g. `framing::negative_length_drops_the_connection`. A failing case panics
//! with `hostile[<adapter>] <group>::<case>: <why>`. Cases of one binary run one at a time
//! (memory peaks are per case).

pub mod cases;
pub mod measure;
pub mod server;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::conformance::Adapter;

/// How long a case may run before it fails.
pub const CASE_LIMIT: Duration = Duration::from_secs(60);

/// The bound on the growth of the live heap, at its peak, during any case.
pub const MEMORY_BOUND: usize = 32 << 20;

/// The shortest time allowed between two connections to one fake server, unless the case
/// says otherwise with [`allow_reconnect_gap`].
pub const MIN_RECONNECT_GAP: Duration = Duration::from_millis(15);

/// The shortest gap the running case allows between connections.
static RECONNECT_GAP: Mutex<Duration> = Mutex::new(MIN_RECONNECT_GAP);

/// Lets the running case reconnect as often as once per `gap` (for a case whose back-off is
/// shorter than the usual one on purpose).
pub fn allow_reconnect_gap(gap: Duration) {
    *RECONNECT_GAP.lock().unwrap_or_else(|e| e.into_inner()) = gap;
}

/// The reconnections of the case just run that came sooner than it allows, as messages.
fn reconnections_too_fast() -> Vec<String> {
    let allowed = std::mem::replace(
        &mut *RECONNECT_GAP.lock().unwrap_or_else(|e| e.into_inner()),
        MIN_RECONNECT_GAP,
    );
    let mut fast = Vec::new();
    for accepts in server::take_accepts() {
        let connections = accepts.len();
        for pair in accepts.windows(2) {
            let gap = pair[1] - pair[0];
            if gap < allowed {
                fast.push(format!(
                    "a reconnection {gap:?} after the previous one (at most one per {allowed:?} \
                     allowed; {connections} connections in all)"
                ));
                break;
            }
        }
    }
    fast
}

/// Held while a case runs: cases of one test binary run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The live bytes when the running case started.
static BASELINE: AtomicUsize = AtomicUsize::new(0);

/// How much the live heap grew, at its peak, since the running case started.
pub fn peak_growth() -> usize {
    measure::peak_bytes().saturating_sub(BASELINE.load(Ordering::SeqCst))
}

/// The message of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}

/// Runs one case on adapter `A`: alone in its process, bounded by [`CASE_LIMIT`], with the
/// heap peak measured from its start and every panic counted. Fails with
/// `hostile[<adapter>] <case>: <why>` if the case failed, if any other thread panicked
/// meanwhile, or if the heap grew by more than [`MEMORY_BOUND`].
pub fn run<A, F, Fut>(case: &'static str, body: F)
where
    A: Adapter,
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    measure::install_panic_counter();
    assert!(
        measure::installed(),
        "hostile[{}] {case}: the counting allocator is not installed; the test binary needs \
         `#[global_allocator] static ALLOC: zk_tests::hostile::measure::CountingAlloc = \
         zk_tests::hostile::measure::CountingAlloc::new();`",
        A::NAME
    );
    // Connections of earlier cases' servers are not this case's.
    let _ = server::take_accepts();
    allow_reconnect_gap(MIN_RECONNECT_GAP);
    let panics_before = measure::panics_seen();
    let own_before = measure::panics_on_this_thread();
    BASELINE.store(measure::reset_peak(), Ordering::SeqCst);
    let started = Instant::now();

    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        A::block_on(async {
            if A::timeout(CASE_LIMIT, body()).await.is_none() {
                panic!("did not finish within {CASE_LIMIT:?}");
            }
        })
    }));

    let elapsed = started.elapsed();
    let grown = peak_growth();
    let all_panics = measure::panics_seen() - panics_before;
    let own_panics = measure::panics_on_this_thread() - own_before;
    let elsewhere = all_panics.saturating_sub(own_panics);
    // Shown with `--nocapture`: the figures the README's guarantees quote.
    eprintln!(
        "hostile[{}] {case}: heap peak +{} KiB, {elapsed:.2?}",
        A::NAME,
        grown >> 10
    );
    let mut why = Vec::new();
    if let Err(payload) = &outcome {
        why.push(panic_message(&**payload));
    }
    why.extend(reconnections_too_fast());
    if elsewhere > 0 {
        why.push(format!(
            "{elsewhere} panic(s) on other threads (client, runtime or fake server; see above)"
        ));
    }
    if grown > MEMORY_BOUND {
        why.push(format!(
            "the live heap grew by {} KiB at its peak, over the bound of {} KiB",
            grown >> 10,
            MEMORY_BOUND >> 10
        ));
    }
    if !why.is_empty() {
        panic!(
            "hostile[{}] {case}: {} (after {elapsed:?})",
            A::NAME,
            why.join("; ")
        );
    }
}

/// Expands into one `#[test]` per hostile case for the adapter type given (one of the
/// conformance adapters, by full path or imported), grouped in modules by what the cases
/// attack. The test binary must also install [`measure::CountingAlloc`] as its global
/// allocator.
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: zk_tests::hostile::measure::CountingAlloc =
///     zk_tests::hostile::measure::CountingAlloc::new();
///
/// zk_tests::hostile_tests!(zk_tests::conformance::TokioAdapter);
/// ```
#[macro_export]
macro_rules! hostile_tests {
    ($adapter:ty) => {
        $crate::__hostile_test_fns! {
            ($adapter)
            handshake {
                garbage_instead_of_a_handshake_is_dropped_by_the_connect_timeout,
                garbage_frame_instead_of_a_handshake_is_refused_at_once,
                http_response_instead_of_a_handshake_is_refused_at_once,
                truncated_connect_response_is_refused_at_once,
                connect_response_cut_short_is_dropped_by_the_connect_timeout,
                negative_timeout_expires_the_session,
                zero_timeout_expires_the_session,
                session_id_zero_is_refused_and_retried_at_the_backoff_rate,
                read_only_response_is_refused_when_read_only_is_not_allowed,
                empty_password_is_accepted,
                password_of_64_kib_is_accepted_and_presented_on_reconnect,
                negative_password_length_reads_as_an_empty_password,
                password_longer_than_the_frame_is_refused,
                response_without_the_read_only_byte_is_accepted,
                another_session_id_on_reconnect_expires_the_session,
                session_id_zero_on_reconnect_ends_in_client_side_expiry,
                garbage_on_every_reconnect_ends_in_client_side_expiry,
                silent_server_is_dropped_by_the_connect_timeout_at_a_bounded_rate,
                connection_closed_right_after_accept_is_retried,
            }
            framing {
                negative_length_drops_the_connection,
                zero_length_frame_drops_the_connection,
                frame_shorter_than_a_reply_header_drops_the_connection,
                reply_just_over_the_max_frame_fails_its_call_and_keeps_the_connection,
                oversized_reply_for_another_xid_drops_the_connection,
                two_gib_reply_fails_its_call_then_the_trickle_is_cut_by_the_read_timeout,
                two_gib_notification_frame_drops_the_connection,
                length_prefix_then_silence_is_cut_by_the_read_timeout,
                frame_of_exactly_the_max_length_is_accepted,
            }
            matching {
                reply_with_an_unknown_xid_drops_the_connection,
                reordered_replies_to_pipelined_calls_drop_the_connection,
                duplicate_reply_drops_the_connection,
                reply_body_of_the_wrong_type_fails_only_its_call,
                unknown_error_code_fails_the_call_with_the_raw_code,
                truncated_reply_body_fails_only_its_call,
                huge_and_negative_zxids_are_harmless,
                ping_reply_with_a_body_is_harmless,
                reply_while_nothing_is_in_flight_drops_the_connection,
            }
            notifications {
                notification_for_an_unwatched_path_is_ignored,
                huge_path_notification_reaches_a_recursive_watch_intact,
                notification_flood_without_a_consumer_keeps_memory_bounded,
                notification_flood_with_a_slow_consumer_keeps_memory_bounded,
                undecodable_notification_drops_the_connection,
                unknown_event_type_is_ignored,
                notification_before_the_connect_response_is_refused,
            }
            liveness {
                silence_after_the_handshake_is_cut_by_the_read_timeout,
                server_that_stops_reading_is_cut_by_the_read_timeout,
                reply_trickled_one_byte_every_200_ms_is_cut_by_the_read_timeout,
                close_after_every_handshake_reconnects_at_most_once_a_second,
                second_connect_response_drops_the_connection,
                ignored_call_stays_pending_while_pings_are_answered_until_close,
            }
            deadlines {
                call_timeout_fails_an_unanswered_call_and_keeps_the_connection,
                call_timeout_then_a_read_timeout_without_its_reply_drops_the_connection,
                call_timeout_bounds_a_call_queued_while_the_port_refuses,
                with_call_timeout_none_lifts_the_builders_call_timeout,
            }
            random {
                random_bytes_after_a_request_never_hang_or_panic,
            }
        }
    };
}

/// The expansion of [`hostile_tests!`]; not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __hostile_test_fns {
    (($adapter:ty) $( $module:ident { $( $name:ident ),* $(,)? } )*) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[test]
                    fn $name() {
                        $crate::hostile::run::<$adapter, _, _>(
                            concat!(stringify!($module), "::", stringify!($name)),
                            $crate::hostile::cases::$name::<$adapter>,
                        );
                    }
                )*
            }
        )*
    };
}
