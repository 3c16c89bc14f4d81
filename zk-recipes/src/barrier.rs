//! Barriers. A [`Barrier`] holds everyone waiting on it while its node exists (Curator's
//! `DistributedBarrier`). A [`DoubleBarrier`] lets a group of `count` participants start
//! together and finish together (Curator's `DistributedDoubleBarrier`, kazoo's
//! `DoubleBarrier`): `enter` returns once `count` have entered, `leave` once all have left.

use bytes::Bytes;
use zk_client::ops::{Create, CreateError, Delete, DeleteError, Error, GetChildren};
use zk_client::proto::CreateMode;

use crate::client::{outcome_unknown, reconnected, remove, remove_in_background, Zk};
use crate::nodes::{create_all, ensure_path, Parents};
use crate::protected::create_protected;
use crate::queue::{child, in_order};

/// A barrier at a path: set while its node exists.
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::Barrier;
///
/// let gate = Barrier::new(client.clone(), "/deploy/gate");
/// gate.set().await?;
/// // Elsewhere: `gate.wait().await?` holds until the gate is removed.
/// gate.remove().await?;
/// gate.wait().await?; // not set: returns at once
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct Barrier<C> {
    zk: C,
    path: String,
}

impl<C: Zk> Barrier<C> {
    /// The barrier at `path`.
    pub fn new(zk: C, path: impl Into<String>) -> Barrier<C> {
        Barrier {
            zk,
            path: path.into(),
        }
    }

    /// Sets the barrier (creates its node, with missing parents); set already is fine.
    pub async fn set(&self) -> Result<(), Error> {
        let create = Create::new(self.path.clone(), Bytes::new());
        match create_all(&self.zk, create, Parents::Persistent).await {
            Err(e) if *e.kind() == zk_client::ops::ErrorKind::NodeExists => Ok(()),
            other => other.map(drop),
        }
    }

    /// Removes the barrier, releasing everyone waiting; removed already is fine.
    pub async fn remove(&self) -> Result<(), Error> {
        loop {
            match self.zk.call(Delete::new(self.path.clone())).await {
                Ok(()) => return Ok(()),
                Err(e) if *e.kind() == DeleteError::NoNode => return Ok(()),
                // Deleting again is harmless (NoNode if the first was applied).
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits until the barrier is not set (at once if it is not).
    pub async fn wait(&self) -> Result<(), Error> {
        loop {
            match self.zk.exists_and_watch(&self.path).await {
                Ok((None, _)) => return Ok(()),
                Ok((Some(_), watch)) => {
                    let _ = watch.await;
                }
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The node that marks a double barrier full.
const READY: &str = "ready";

/// A double barrier at a path for `count` participants (see the module docs). Each
/// participant is an ephemeral-sequential node under the path: one whose session ends has
/// left, and dropping a participant that entered and did not leave removes its node. Use a
/// path per round: the ready marker of a round stays until its last participant has left.
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::DoubleBarrier;
///
/// // One of `count` workers: all start together, and all finish together.
/// let mut round = DoubleBarrier::new(client.clone(), "/jobs/round-1", 1);
/// round.enter().await?;
/// // ... the work ...
/// round.leave().await?;
/// # Ok(()) });
/// ```
#[derive(Debug)]
pub struct DoubleBarrier<C: Zk> {
    zk: C,
    path: String,
    count: usize,
    /// This participant's node, once entered.
    node: Option<String>,
}

impl<C: Zk> DoubleBarrier<C> {
    /// A participant of the double barrier at `path` for `count` participants.
    pub fn new(zk: C, path: impl Into<String>, count: usize) -> DoubleBarrier<C> {
        DoubleBarrier {
            zk,
            path: path.into(),
            count,
            node: None,
        }
    }

    /// The participants' names in the order they entered (without the ready marker).
    async fn participants(&self) -> Result<Vec<String>, Error> {
        loop {
            match self.zk.call(GetChildren::new(self.path.clone())).await {
                Ok((children, _)) => return Ok(in_order(children)),
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Enters, and waits until `count` participants have entered. Entering again (without
    /// leaving) only waits.
    pub async fn enter(&mut self) -> Result<(), Error> {
        ensure_path(&self.zk, &self.path, Parents::Persistent).await?;
        let ready = child(&self.path, READY);
        // Watch for the ready marker before joining, so its creation cannot be missed.
        let (present, watch) = loop {
            match self.zk.exists_and_watch(&ready).await {
                Ok(watched) => break watched,
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => return Err(e.into()),
            }
        };
        if self.node.is_none() {
            let node = create_protected(
                &self.zk,
                &self.path,
                "member-",
                Bytes::new(),
                CreateMode::EphemeralSequential,
            )
            .await?
            .into_node()
            .path;
            self.node = Some(node);
        }
        if present.is_some() {
            return Ok(());
        }
        if self.participants().await?.len() >= self.count {
            let mark = Create::new(ready, Bytes::new());
            match self.zk.call(mark).await {
                Ok(_) => return Ok(()),
                Err(e) if *e.kind() == CreateError::NodeExists => return Ok(()),
                // Applied or not, the marker is there or another participant makes it.
                Err(e) if outcome_unknown(e.common()) => return self.wait_ready().await,
                Err(e) => return Err(e.into()),
            }
        }
        let _ = watch.await;
        self.wait_ready().await
    }

    /// Waits until the ready marker exists.
    async fn wait_ready(&self) -> Result<(), Error> {
        let ready = child(&self.path, READY);
        loop {
            match self.zk.exists_and_watch(&ready).await {
                Ok((Some(_), _)) => return Ok(()),
                Ok((None, watch)) => {
                    let _ = watch.await;
                }
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Leaves, and waits until every participant has left (the classic algorithm: the first
    /// to have entered leaves last; each other participant deletes its node and waits for the
    /// first one to go). The last one out removes the ready marker.
    pub async fn leave(&mut self) -> Result<(), Error> {
        let Some(node) = self.node.clone() else {
            return Ok(());
        };
        let mine = node.rsplit('/').next().unwrap_or_default().to_owned();
        loop {
            let participants = self.participants().await?;
            let watched = match participants.iter().position(|p| *p == mine) {
                // Out already: wait for the first one to go, then everyone has.
                None => match participants.first() {
                    None => break,
                    Some(first) => child(&self.path, first),
                },
                Some(_) if participants.len() == 1 => {
                    remove(&self.zk, &node).await;
                    break;
                }
                // The first waits for the last to go.
                Some(0) => child(&self.path, &participants[participants.len() - 1]),
                Some(_) => {
                    remove(&self.zk, &node).await;
                    continue;
                }
            };
            match self.zk.exists_and_watch(&watched).await {
                Ok((Some(_), watch)) => {
                    let _ = watch.await;
                }
                Ok((None, _)) => {}
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => return Err(e.into()),
            }
        }
        self.node = None;
        // Everyone is out: clear the marker (gone already is fine).
        remove(&self.zk, &child(&self.path, READY)).await;
        Ok(())
    }
}

impl<C: Zk> Drop for DoubleBarrier<C> {
    /// A participant that entered and did not leave removes its node.
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            remove_in_background(&self.zk, node);
        }
    }
}
