//! The scenarios, each an `async fn name<A: Adapter>(env: Env)` named for what it proves.
//! The list that turns them into tests is [`conformance_tests!`](crate::conformance_tests).
//!
//! * [`nodes`]: every node operation and each of its error outcomes.
//! * [`multi`]: atomic multi (results, per-op failure, nothing applied) and multi_read.
//! * [`watches`]: one-shot, persistent and recursive watches, their removal, slow consumers.
//! * [`session`]: chroot, auth, close, handles, state, real expiry, ordering, cancellation,
//!   disconnection.
//! * [`faults`]: ensembles with a killed, a frozen, and a partitioned (read-only) member.
//! * [`recipes`]: zk-recipes' building blocks, protected creates, retries, mutex, election,
//!   counter and barriers.
//! * [`chaos`]: the recipes on an ensemble whose members are killed, frozen and restarted.
//! * [`cache`]: zk-recipes' caches and service discovery against random writes, on a server
//!   and on an ensemble under faults.

pub mod cache;
pub mod chaos;
pub mod faults;
pub mod multi;
pub mod nodes;
pub mod recipes;
pub mod session;
pub mod watches;

use std::fmt::Debug;

use zk_client::ops::{CreateError, Created, OpError};
use zk_client::proto::CreateMode;

use super::Api;

/// A small deterministic generator (xorshift64*), seeded per run and printed.
pub(crate) struct Rng(pub u64);

impl Rng {
    /// A number below `n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }

    /// A generator seeded from the clock, the seed printed under `what`.
    pub(crate) fn from_clock(what: &str) -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        eprintln!("[{what}] seed {seed}");
        Rng(seed | 1)
    }
}

/// A call's result with only the kind of its error (without the operation and path), to
/// compare with an expected outcome.
pub(crate) trait KindOnly<T, K> {
    /// The result, its error reduced to its kind.
    fn kind_only(self) -> Result<T, K>;
}

impl<T, K> KindOnly<T, K> for Result<T, OpError<K>> {
    fn kind_only(self) -> Result<T, K> {
        self.map_err(OpError::into_kind)
    }
}

/// Unwrapping with a message naming what was expected.
pub(crate) trait Want<T, E> {
    /// The success value; panics with `what` and the error otherwise.
    fn want(self, what: &str) -> T;
    /// The error; panics with `what` and the value otherwise.
    fn want_err(self, what: &str) -> E;
}

impl<T: Debug, E: Debug> Want<T, E> for Result<T, E> {
    #[track_caller]
    fn want(self, what: &str) -> T {
        match self {
            Ok(value) => value,
            Err(e) => panic!("{what}: unexpected error {e:?}"),
        }
    }

    #[track_caller]
    fn want_err(self, what: &str) -> E {
        match self {
            Ok(value) => panic!("{what}: expected an error, got {value:?}"),
            Err(e) => e,
        }
    }
}

/// Creates a persistent node with `data`, panicking on failure.
pub(crate) async fn create_node<C: Api>(client: &C, path: &str, data: &'static [u8]) -> Created {
    let created: Result<Created, OpError<CreateError>> =
        client.create(path, data, CreateMode::Persistent).await;
    created.want(&format!("creating {path}"))
}

/// The sequence number a sequential node's name ends with.
#[track_caller]
pub(crate) fn sequence_of(path: &str) -> i32 {
    let suffix = &path[path.len().saturating_sub(10)..];
    assert!(
        suffix.len() == 10 && suffix.bytes().all(|b| b.is_ascii_digit()),
        "{path} does not end with a 10-digit sequence number"
    );
    suffix.parse().expect("ten digits parse")
}

/// `names`, sorted.
pub(crate) fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}
