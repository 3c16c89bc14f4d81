//! Barriers. A [`Barrier`] holds everyone waiting on it while its node exists (Curator's
//! `DistributedBarrier`). A [`DoubleBarrier`] lets a group of `count` participants start
//! together and finish together (Curator's `DistributedDoubleBarrier`, kazoo's
//! `DoubleBarrier`): `enter` returns once `count` have entered, `leave` once all have left.

use bytes::Bytes;
use zk_client::ops::{Create, CreateError, Delete, DeleteError, Error, GetChildren};
use zk_client::proto::CreateMode;
use zk_client::CommonError;

use crate::client::Zk;
use crate::nodes::{create_all, ensure_path, Parents};
use crate::protected::create_protected;
use crate::queue::child;

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
                Err(e) if e.common() == Some(CommonError::ConnectionLoss) => {}
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
                Err(e) if e.common() == Some(CommonError::ConnectionLoss) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The node that marks a double barrier full.
const READY: &str = "ready";

/// A double barrier at a path for `count` participants (see the module docs). Each
/// participant is an ephemeral node under the path: one whose session ends leaves.
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
pub struct DoubleBarrier<C> {
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

    /// The participants' nodes' names (without the ready marker).
    async fn participants(&self) -> Result<Vec<String>, Error> {
        loop {
            match self.zk.call(GetChildren::new(self.path.clone())).await {
                Ok((mut children, _)) => {
                    children.retain(|c| c != READY);
                    children.sort();
                    return Ok(children);
                }
                Err(e) if e.common() == Some(CommonError::ConnectionLoss) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Enters, and waits until `count` participants have entered.
    pub async fn enter(&mut self) -> Result<(), Error> {
        ensure_path(&self.zk, &self.path, Parents::Persistent).await?;
        let ready = child(&self.path, READY);
        // Watch for the ready marker before joining, so its creation cannot be missed.
        let (present, watch) = loop {
            match self.zk.exists_and_watch(&ready).await {
                Ok(watched) => break watched,
                Err(e) if e.common() == Some(CommonError::ConnectionLoss) => {}
                Err(e) => return Err(e.into()),
            }
        };
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
        if present.is_some() {
            return Ok(());
        }
        if self.participants().await?.len() >= self.count {
            let mark = Create::new(ready, Bytes::new());
            match self.zk.call(mark).await {
                Ok(_) => return Ok(()),
                Err(e) if *e.kind() == CreateError::NodeExists => return Ok(()),
                // Marking again is harmless (NodeExists if the first was applied).
                Err(e) if e.common() == Some(CommonError::ConnectionLoss) => {
                    return self.wait_ready().await;
                }
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
                Err(e) if e.common() == Some(CommonError::ConnectionLoss) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Leaves, and waits until every participant has left (the classic algorithm: the lowest
    /// node leaves last, each other participant deletes its node and waits for the lowest).
    pub async fn leave(&mut self) -> Result<(), Error> {
        let Some(node) = self.node.clone() else {
            return Ok(());
        };
        let mine = node.rsplit('/').next().unwrap_or_default().to_owned();
        loop {
            let participants = self.participants().await?;
            let Some(position) = participants.iter().position(|p| *p == mine) else {
                break;
            };
            if participants.len() == 1 {
                self.delete(&node).await?;
                break;
            }
            let watched = if position == 0 {
                // The lowest waits for the highest to go.
                child(&self.path, &participants[participants.len() - 1])
            } else {
                self.delete(&node).await?;
                child(&self.path, &participants[0])
            };
            match self.zk.exists_and_watch(&watched).await {
                Ok((Some(_), watch)) => {
                    let _ = watch.await;
                }
                Ok((None, _)) => {}
                Err(e) if e.common() == Some(CommonError::ConnectionLoss) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.node = None;
        // Everyone is out: the last one clears the marker (gone already is fine).
        let ready = child(&self.path, READY);
        match self.zk.call(Delete::new(ready)).await {
            Ok(()) => Ok(()),
            Err(e) if *e.kind() == DeleteError::NoNode => Ok(()),
            Err(e) if e.common() == Some(CommonError::ConnectionLoss) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, node: &str) -> Result<(), Error> {
        loop {
            match self.zk.call(Delete::new(node)).await {
                Ok(()) => return Ok(()),
                Err(e) if *e.kind() == DeleteError::NoNode => return Ok(()),
                Err(e) if e.common() == Some(CommonError::ConnectionLoss) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
