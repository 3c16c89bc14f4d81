//! A distributed counter: an `i64` in a node (8 bytes, big-endian, as Curator's
//! `DistributedAtomicLong` stores it), changed by compare-and-set on the node's version and
//! tried again when another writer came first.
//!
//! A change whose reply is lost to a ConnectionLoss is not tried again: it may have been
//! applied, and applying it twice would count twice. The error says so (`ConnectionLoss`);
//! read the counter to see where it stands.

use zk_client::ops::{Create, Error, ErrorKind, GetData, GetDataError, SetData, SetDataError};

use crate::client::{outcome_unknown, reconnected, Zk};
use crate::nodes::{create_all, Parents};

/// Why a counter operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CounterError {
    /// A call failed; for a change lost to ConnectionLoss, it may or may not have been applied.
    #[error("counter: {0}")]
    Zk(#[from] Error),
    /// The node holds something other than an 8-byte counter.
    #[error("counter {path}: the node holds {len} bytes, not an 8-byte counter")]
    NotACounter {
        /// The counter's path.
        path: String,
        /// How many bytes it holds.
        len: usize,
    },
}

/// A counter at a path (created, with its parents, when first changed).
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::Counter;
///
/// let visits = Counter::new(client.clone(), "/stats/visits");
/// assert_eq!(visits.add(1).await?, 1);
/// assert_eq!(visits.add(41).await?, 42);
/// assert_eq!(visits.get().await?, 42);
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct Counter<C> {
    zk: C,
    path: String,
}

impl<C: Zk> Counter<C> {
    /// The counter at `path`.
    pub fn new(zk: C, path: impl Into<String>) -> Counter<C> {
        Counter {
            zk,
            path: path.into(),
        }
    }

    /// The counter's value (0 when the node does not exist yet).
    pub async fn get(&self) -> Result<i64, CounterError> {
        Ok(self.read().await?.0)
    }

    /// Adds `delta` and returns the new value.
    pub async fn add(&self, delta: i64) -> Result<i64, CounterError> {
        self.update(|value| value.wrapping_add(delta)).await
    }

    /// Sets the value to `f(current)` atomically and returns it.
    pub async fn update(&self, f: impl Fn(i64) -> i64) -> Result<i64, CounterError> {
        loop {
            let (value, version) = self.read().await?;
            let next = f(value);
            let bytes = next.to_be_bytes().to_vec();
            match version {
                None => {
                    let create = Create::new(self.path.clone(), bytes);
                    match create_all(&self.zk, create, Parents::Persistent).await {
                        Ok(_) => return Ok(next),
                        // Someone else created it first: compare again.
                        Err(e) if *e.kind() == ErrorKind::NodeExists => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(version) => {
                    let set = SetData::new(self.path.clone(), bytes).version(version);
                    match self.zk.call(set).await {
                        Ok(_) => return Ok(next),
                        // Another writer came first: compare again.
                        Err(e) if matches!(e.kind(), SetDataError::BadVersion { .. }) => {}
                        Err(e) if *e.kind() == SetDataError::NoNode => {}
                        Err(e) => return Err(Error::from(e).into()),
                    }
                }
            }
        }
    }

    /// The value and the node's version (`None` when it does not exist).
    async fn read(&self) -> Result<(i64, Option<i32>), CounterError> {
        loop {
            match self.zk.call(GetData::new(self.path.clone())).await {
                Ok((data, stat)) => {
                    let bytes: [u8; 8] =
                        data[..].try_into().map_err(|_| CounterError::NotACounter {
                            path: self.path.clone(),
                            len: data.len(),
                        })?;
                    return Ok((i64::from_be_bytes(bytes), Some(stat.version)));
                }
                Err(e) if *e.kind() == GetDataError::NoNode => return Ok((0, None)),
                // A read is safe to send again.
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => return Err(Error::from(e).into()),
            }
        }
    }
}
