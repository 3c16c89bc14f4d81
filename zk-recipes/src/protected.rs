//! Protected creates (Curator's "protection"): an ephemeral create that, when its reply is lost
//! to a ConnectionLoss, finds out whether the server applied it, instead of creating a second
//! node or leaving an orphan that would outlive its purpose for the whole session.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use zk_client::ops::{Create, Created, Error, Exists, GetChildren, GetChildrenError, Operation};
use zk_client::proto::CreateMode;
use zk_client::CommonError;

use crate::client::{outcome_unknown, reconnected, remove, Zk};

/// The prefix of a protected node's name: `_c_`, a marker unique to this create, `-`.
pub const PROTECTED_PREFIX: &str = "_c_";

/// How a protected create ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protected {
    /// The create's reply came: the node is the one just created.
    Created(Created),
    /// A reply was lost to ConnectionLoss and the node was found under its marker: the
    /// server had applied the create.
    Recovered(Created),
}

impl Protected {
    /// The node, however it was learned of.
    pub fn node(&self) -> &Created {
        match self {
            Protected::Created(c) | Protected::Recovered(c) => c,
        }
    }

    /// The node, however it was learned of.
    pub fn into_node(self) -> Created {
        match self {
            Protected::Created(c) | Protected::Recovered(c) => c,
        }
    }
}

/// A marker no other create of any process is expected to use: 128 bits from the process's
/// random hasher keys, the time and a counter.
fn random_hex() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut words = [0u64; 2];
    for word in &mut words {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
        if let Ok(since) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(since.as_nanos());
        }
        *word = hasher.finish();
    }
    format!("{:016x}{:016x}", words[0], words[1])
}

/// Creates an ephemeral (or ephemeral-sequential) node `name` under `parent`, protected: its
/// name starts with a marker unique to this call (`_c_<marker>-name`, then the sequence
/// number for sequential modes). If a reply is lost to ConnectionLoss (or the caller's timeout
/// passed first: RequestTimeout), the parent's children
/// are listed (on the same session, once reconnected) and a node with the marker is taken as
/// the one created; only if none is there is the create sent again. So exactly one node is
/// created, owned by this session, or the call fails with a typed error (the session expired,
/// the parent is missing, ...).
///
/// `mode` must be ephemeral or ephemeral-sequential: a persistent node found or not after a
/// ConnectionLoss has no session tying it to its creator.
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::{create_protected, create_all, Parents, Protected};
/// use zk_tokio::{ops::Create, CreateMode};
///
/// create_all(&client, Create::new("/services/api", Vec::new()), Parents::Persistent).await?;
/// let me = create_protected(&client, "/services/api", "instance-", &b"10.0.0.7:8080"[..], CreateMode::EphemeralSequential).await?;
/// // `Recovered` when a lost reply was made good by finding the node.
/// assert!(matches!(me, Protected::Created(_)));
/// assert_eq!(me.node().stat.ephemeral_owner, client.session_id());
/// # Ok(()) });
/// ```
pub async fn create_protected<C: Zk>(
    zk: &C,
    parent: &str,
    name: &str,
    data: impl Into<Bytes>,
    mode: CreateMode,
) -> Result<Protected, Error> {
    create_marked(zk, parent, &new_marker(), name, data.into(), mode).await
}

/// A new protection marker: `_c_`, 32 random hex digits, `-`.
pub(crate) fn new_marker() -> String {
    format!("{PROTECTED_PREFIX}{}-", random_hex())
}

/// [`create_protected`] with the marker given (so that a caller can find the node when it gives
/// up before the create's reply: [`remove_marked`]).
pub(crate) async fn create_marked<C: Zk>(
    zk: &C,
    parent: &str,
    marker: &str,
    name: &str,
    data: Bytes,
    mode: CreateMode,
) -> Result<Protected, Error> {
    let path = if parent == "/" {
        format!("/{marker}{name}")
    } else {
        format!("{parent}/{marker}{name}")
    };
    let create = Create::new(path, data).mode(mode);
    if !matches!(
        mode,
        CreateMode::Ephemeral | CreateMode::EphemeralSequential
    ) {
        let refused =
            CommonError::InvalidArgument("a protected create is ephemeral or ephemeral-sequential");
        return Err(create.fail(refused).into());
    }
    loop {
        match zk.call(create.clone()).await {
            Ok(created) => return Ok(Protected::Created(created)),
            // The create may have been applied (its reply lost, or the caller's timeout).
            Err(e) if outcome_unknown(e.common()) => {
                tracing::debug!(
                    parent,
                    marker,
                    "a protected create's outcome is unknown: looking for its node"
                );
                if let Some(found) = find_marked(zk, parent, marker).await? {
                    return Ok(Protected::Recovered(found));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The child of `parent` whose name starts with `marker`, with its stat; lists again after
/// each ConnectionLoss.
pub(crate) async fn find_marked<C: Zk>(
    zk: &C,
    parent: &str,
    marker: &str,
) -> Result<Option<Created>, Error> {
    loop {
        let children = match zk.call(GetChildren::new(parent)).await {
            Ok((children, _)) => children,
            Err(e) if outcome_unknown(e.common()) => {
                reconnected(zk).await;
                continue;
            }
            Err(e) if *e.kind() == GetChildrenError::NoNode => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(name) = children.into_iter().find(|c| c.starts_with(marker)) else {
            return Ok(None);
        };
        let path = if parent == "/" {
            format!("/{name}")
        } else {
            format!("{parent}/{name}")
        };
        match zk.call(Exists::new(path.clone())).await {
            Ok(Some(stat)) => return Ok(Some(Created { path, stat })),
            // Gone already: the session ended, or someone deleted it.
            Ok(None) => return Ok(None),
            Err(e) if outcome_unknown(e.common()) => {
                reconnected(zk).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Removes the node of a protected create given up before its reply came: the session's
/// requests are answered in order, so a listing sent after the create sees its node if the
/// server applied it.
pub(crate) async fn remove_marked<C: Zk>(zk: C, parent: String, marker: String) {
    if let Ok(Some(node)) = find_marked(&zk, &parent, &marker).await {
        remove(&zk, &node.path).await;
    }
}
