//! Coordination recipes for ZooKeeper that stay correct under failures, written once for
//! every client of the workspace (zk-tokio, zk-async-std, and zk-blocking with the `blocking`
//! feature: wrap a recipe's future in [`wait`]).
//!
//! * [`nodes`]: create with missing parents, make sure a path exists, delete a subtree;
//! * [`protected`]: ephemeral creates that survive a lost reply without duplicates or orphans;
//! * [`retry`]: retrying calls that are safe to retry, and only those;
//! * [`mutex`]: a fair lock, one watcher per release, with fencing tokens; a read-write lock
//!   and a counting semaphore on the same queue;
//! * [`latch`]: leader election, with leadership gained and lost reported;
//! * [`barrier`]: a barrier and a double barrier;
//! * [`counter`]: a counter changed by compare-and-set;
//! * [`cache`]: a local, always-current copy of a subtree, a node, or a node's children;
//! * [`discovery`]: services' instances registered as protected ephemeral nodes, discovered
//!   and followed.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod barrier;
pub mod cache;
mod cell;
mod client;
pub mod counter;
pub mod discovery;
#[cfg(test)]
mod fake;
pub mod latch;
pub mod mutex;
pub mod nodes;
pub mod protected;
mod queue;
pub mod retry;

pub use barrier::{Barrier, DoubleBarrier};
pub use cache::{CacheError, CacheEvent, CachedNode, ChildrenCache, NodeCache, TreeCache};
pub use client::{
    wait, AddedWatch, BoxFuture, Events, Fire, Fired, States, Watched, WatchedChildren, Zk,
};
pub use counter::{Counter, CounterError};
pub use discovery::{Instance, Registration, ServiceCache, ServiceDiscovery};
pub use latch::{Election, LatchEnded, LeaderLatch, LeadershipEvent, Participant};
pub use mutex::{FencingToken, LockError, LockGuard, LossPolicy, Mutex, RwLock, Semaphore};
pub use nodes::{create_all, delete_all, ensure_path, Parents};
pub use protected::{create_protected, Protected};
pub use retry::{retry, Blind, Conditional, Idempotent, RetryPolicy};
