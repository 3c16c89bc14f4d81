//! Service discovery: each instance of a service is a protected ephemeral node
//! `<base>/<service>/_c_<marker>-<id>` whose data is the instance's payload (an address, a
//! description: bytes the application chooses); discovering a service lists those nodes, or
//! follows them with a children cache.
//!
//! Compared with Curator's `ServiceDiscovery` (curator-x-discovery): the same layout idea
//! (one ephemeral node per instance under the service's path), with the payload left to the
//! application instead of Curator's JSON `ServiceInstance`; the instance's node is created
//! protected (a create whose reply is lost is found, not repeated); and registering again
//! after a session expiry is the application's choice ([`Registration::keep`]), since a
//! client never moves to a new session by itself. kazoo has no discovery recipe (its `Party`
//! is the closest: members without payloads).

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use zk_client::ops::{Delete, DeleteError, Error, GetData, GetDataError, Operation, SetData};
use zk_client::proto::CreateMode;
use zk_client::SessionState;

use crate::cache::{CacheEvent, ChildrenCache, TreeCache};
use crate::cell::Cell;
use crate::client::{outcome_unknown, reconnected, Zk};
use crate::nodes::{ensure_path, Parents};
use crate::protected::{create_protected, PROTECTED_PREFIX};
use crate::queue;

/// The length of a protection marker: `_c_`, 32 hex digits, `-`.
const MARKER_LEN: usize = PROTECTED_PREFIX.len() + 33;

/// One instance of a service, as discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instance's id, as registered.
    pub id: String,
    /// The instance's payload.
    pub payload: Bytes,
    /// The instance's node.
    pub node: String,
}

/// The id in an instance node's name: after the protection marker.
fn id_of(name: &str) -> Option<&str> {
    let id = name
        .strip_prefix(PROTECTED_PREFIX)?
        .get(MARKER_LEN - PROTECTED_PREFIX.len()..)?;
    (name.as_bytes().get(MARKER_LEN - 1) == Some(&b'-')).then_some(id)
}

/// The services under a base path: register instances, discover them.
///
/// # Example: registering and discovering instances
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::discovery::ServiceDiscovery;
///
/// let services = ServiceDiscovery::new(client.clone(), "/services");
/// let registration = services.register("billing", "host-a:8080", &b"10.0.0.1:8080"[..]).await?;
///
/// let found = services.instances("billing").await?;
/// assert_eq!(found.len(), 1);
/// assert_eq!((found[0].id.as_str(), &found[0].payload[..]), ("host-a:8080", &b"10.0.0.1:8080"[..]));
///
/// // Follow the service: a cache of its instances.
/// let billing = services.follow("billing");
/// billing.wait_initialized().await?;
/// assert_eq!(billing.instances().len(), 1);
/// registration.unregister().await?;
/// while !billing.instances().is_empty() {
///     billing.next_change().await;
/// }
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct ServiceDiscovery<C> {
    zk: C,
    base: String,
}

impl<C: Zk> ServiceDiscovery<C> {
    /// The services under `base` (created, with the services' paths, as container nodes when
    /// missing).
    pub fn new(zk: C, base: impl Into<String>) -> ServiceDiscovery<C> {
        ServiceDiscovery {
            zk,
            base: base.into(),
        }
    }

    /// The path of `service`.
    pub fn service_path(&self, service: &str) -> String {
        queue::child(&self.base, service)
    }

    /// Registers an instance of `service`: its node, ephemeral, lives as long as the session
    /// (see [`Registration::keep`] to register again on a new session after an expiry).
    pub async fn register(
        &self,
        service: &str,
        id: &str,
        payload: impl Into<Bytes>,
    ) -> Result<Registration<C>, Error> {
        if id.is_empty() || id.contains('/') {
            let create = zk_client::ops::Create::new(self.service_path(service), Bytes::new());
            let invalid = "an instance id must be a non-empty node name (without `/`)";
            return Err(create
                .fail(zk_client::CommonError::InvalidArgument(invalid))
                .into());
        }
        let instance = Arc::new(Registered {
            service_path: self.service_path(service),
            id: id.to_owned(),
            payload: std::sync::Mutex::new(payload.into()),
        });
        let node = instance.create(&self.zk).await?;
        Ok(Registration {
            zk: self.zk.clone(),
            instance,
            node,
        })
    }

    /// The instances of `service` now (a listing, then each instance's payload).
    pub async fn instances(&self, service: &str) -> Result<Vec<Instance>, Error> {
        let path = self.service_path(service);
        let mut out = Vec::new();
        for name in children(&self.zk, &path).await? {
            let Some(id) = id_of(&name) else { continue };
            let node = queue::child(&path, &name);
            let payload = loop {
                match self.zk.call(GetData::new(node.clone())).await {
                    Ok((payload, _)) => break Some(payload),
                    // Gone meanwhile.
                    Err(e) if *e.kind() == GetDataError::NoNode => break None,
                    Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                    Err(e) => return Err(e.into()),
                }
            };
            if let Some(payload) = payload {
                out.push(Instance {
                    id: id.to_owned(),
                    payload,
                    node,
                });
            }
        }
        Ok(out)
    }

    /// Follows the instances of `service`: a cache of its children, read without a round trip.
    pub fn follow(&self, service: &str) -> ServiceCache<C> {
        ServiceCache(ChildrenCache::new(
            self.zk.clone(),
            self.service_path(service),
        ))
    }
}

/// The children of `path`, none when it is missing.
async fn children<C: Zk>(zk: &C, path: &str) -> Result<Vec<String>, Error> {
    loop {
        match zk.call(zk_client::ops::GetChildren::new(path)).await {
            Ok((children, _)) => return Ok(children),
            Err(e) if *e.kind() == zk_client::ops::GetChildrenError::NoNode => {
                return Ok(Vec::new())
            }
            Err(e) if outcome_unknown(e.common()) => reconnected(zk).await,
            Err(e) => return Err(e.into()),
        }
    }
}

/// What a registration registers, again when asked.
#[derive(Debug)]
struct Registered {
    service_path: String,
    id: String,
    /// The payload, as last set.
    payload: std::sync::Mutex<Bytes>,
}

impl Registered {
    /// Creates the instance's node on `zk`'s session (the service's path first, when
    /// missing); its path.
    async fn create<C: Zk>(&self, zk: &C) -> Result<String, Error> {
        let payload = self
            .payload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut missing_parent = 0;
        loop {
            let created = create_protected(
                zk,
                &self.service_path,
                &self.id,
                payload.clone(),
                CreateMode::Ephemeral,
            )
            .await;
            match created {
                Ok(node) => return Ok(node.into_node().path),
                Err(e) if *e.kind() == zk_client::ops::ErrorKind::NoNode && missing_parent < 8 => {
                    missing_parent += 1;
                    ensure_path(zk, &self.service_path, Parents::Container).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A registered instance ([`ServiceDiscovery::register`]). Dropping it leaves the node until
/// the session ends; [`Registration::unregister`] removes it.
#[derive(Debug)]
pub struct Registration<C> {
    zk: C,
    instance: Arc<Registered>,
    node: String,
}

impl<C: Zk> Registration<C> {
    /// The instance's node.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether the session that holds the node has not ended.
    pub fn is_registered(&self) -> bool {
        !self.zk.state().is_terminal()
    }

    /// Changes the instance's payload.
    pub async fn update(&self, payload: impl Into<Bytes>) -> Result<(), Error> {
        let payload = payload.into();
        *self
            .instance
            .payload
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = payload.clone();
        loop {
            match self
                .zk
                .call(SetData::new(self.node.clone(), payload.clone()))
                .await
            {
                Ok(_) => return Ok(()),
                // An unconditional set of the same bytes: applying it twice is applying it once.
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Removes the instance's node.
    pub async fn unregister(self) -> Result<(), Error> {
        loop {
            match self.zk.call(Delete::new(self.node.clone())).await {
                Ok(()) => return Ok(()),
                Err(e) if *e.kind() == DeleteError::NoNode => return Ok(()),
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Keeps the instance registered across session expiries: a background task waits for the
    /// session to end and, when it ended otherwise than by a close, asks `reconnect` for a
    /// client on a new session and registers the instance again there (the node's name then
    /// changes). `reconnect` returning `None` stops it. The returned handle tells the node
    /// and how many registrations were made, and why the task stopped.
    pub fn keep<F, Fut>(self, reconnect: F) -> KeptRegistration
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Option<C>> + Send + 'static,
    {
        let state = Arc::new(Cell::new(Kept {
            node: Some(self.node.clone()),
            registrations: 1,
            stopped: None,
            stop_requested: false,
        }));
        let shared = state.clone();
        let zk = self.zk.clone();
        let task = keep_registered(self.zk, self.instance, reconnect, shared);
        if let Err(e) = zk.spawn(Box::pin(task)) {
            state.update(|s| s.stopped = Some(format!("its task could not start: {e}")));
        }
        KeptRegistration { state }
    }
}

/// What a kept registration's task shares with its handle.
#[derive(Debug)]
struct Kept {
    /// The node now (`None` while registering again).
    node: Option<String>,
    /// How many times the instance was registered.
    registrations: u64,
    /// Why the task stopped.
    stopped: Option<String>,
    stop_requested: bool,
}

/// A registration kept across session expiries ([`Registration::keep`]). Its payload is the
/// one it had when kept; its node goes with its session, or when the application deletes it.
#[derive(Debug)]
pub struct KeptRegistration {
    state: Arc<Cell<Kept>>,
}

impl KeptRegistration {
    /// The instance's node now (`None` between a session's end and the next registration).
    pub fn node(&self) -> Option<String> {
        self.state.lock().node.clone()
    }

    /// How many times the instance was registered (1, then one more per new session).
    pub fn registrations(&self) -> u64 {
        self.state.lock().registrations
    }

    /// Why the task stopped, once it has.
    pub fn stopped(&self) -> Option<String> {
        self.state.lock().stopped.clone()
    }

    /// Waits until the instance is registered `n` times in all.
    pub async fn wait_registrations(&self, n: u64) {
        poll_fn(|cx| {
            self.state.poll_state(cx, |s| {
                (s.registrations >= n || s.stopped.is_some()).then_some(())
            })
        })
        .await
    }

    /// Stops registering again (the node stays until its session ends).
    pub fn stop(&self) {
        self.state.update(|s| s.stop_requested = true);
    }
}

impl Drop for KeptRegistration {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The task of [`Registration::keep`].
async fn keep_registered<C, F, Fut>(
    zk: C,
    instance: Arc<Registered>,
    mut reconnect: F,
    state: Arc<Cell<Kept>>,
) where
    C: Zk,
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Option<C>> + Send + 'static,
{
    let mut zk = zk;
    loop {
        // Until the session ends, or the handle asks to stop.
        let mut states = zk.states();
        let ended = loop {
            let state_now = states.current();
            if state_now.is_terminal() {
                break Some(state_now);
            }
            let stop = std::pin::pin!(poll_fn(
                |cx| state.poll_state(cx, |s| { s.stop_requested.then_some(()) })
            ));
            let changed = std::pin::pin!(states.changed());
            let mut stop = stop;
            let mut changed = changed;
            let woke = poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                changed.as_mut().poll(cx).map(Some)
            })
            .await;
            match woke {
                None => break None,
                Some(None) => break Some(zk.state()),
                Some(Some(_)) => continue,
            }
        };
        let Some(ended) = ended else {
            return state.update(|s| s.stopped = Some("stopped".into()));
        };
        state.update(|s| s.node = None);
        if ended == SessionState::Closed {
            return state.update(|s| s.stopped = Some("the session was closed".into()));
        }
        tracing::warn!(service = %instance.service_path, id = %instance.id, ?ended,
            "registration's session ended: registering again on a new one");
        // Until registered on a new session (one that ends during the create is replaced).
        loop {
            let Some(next) = reconnect().await else {
                return state.update(|s| s.stopped = Some("no new session".into()));
            };
            if state.lock().stop_requested {
                return state.update(|s| s.stopped = Some("stopped".into()));
            }
            zk = next;
            match instance.create(&zk).await {
                Ok(node) => {
                    state.update(|s| {
                        s.node = Some(node);
                        s.registrations += 1;
                    });
                    break;
                }
                Err(e) if e.common().is_some_and(|c| c.is_terminal()) => continue,
                Err(e) => return state.update(|s| s.stopped = Some(e.to_string())),
            }
        }
    }
}

/// A change of a followed service's instances.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceChange {
    /// An instance registered.
    Registered(Instance),
    /// An instance changed its payload.
    Updated(Instance),
    /// An instance's node went (unregistered, or its session ended).
    Gone {
        /// Its node.
        node: String,
    },
    /// The cache walked the service again (after events may have been missed): read
    /// [`ServiceCache::instances`] again.
    Resynchronized,
}

/// The instances of a service, followed ([`ServiceDiscovery::follow`]): a children cache of
/// the service's path.
#[derive(Debug)]
pub struct ServiceCache<C>(ChildrenCache<C>);

impl<C: Zk> ServiceCache<C> {
    /// The instances now, by node name.
    pub fn instances(&self) -> Vec<Instance> {
        let root = self.0.root().to_owned();
        self.0
            .entries()
            .into_iter()
            .filter_map(|(name, node)| {
                Some(Instance {
                    id: id_of(&name)?.to_owned(),
                    payload: node.data().cloned().unwrap_or_default(),
                    node: queue::child(&root, &name),
                })
            })
            .collect()
    }

    /// The next change of the instances; `None` once the cache ended.
    pub async fn next_change(&self) -> Option<InstanceChange> {
        loop {
            let event = self.0.next_event().await?;
            let instance = |path: &str, node: &crate::cache::CachedNode| {
                let name = path.rsplit('/').next()?;
                Some(Instance {
                    id: id_of(name)?.to_owned(),
                    payload: node.data().cloned().unwrap_or_default(),
                    node: path.to_owned(),
                })
            };
            let change = match &event {
                CacheEvent::Added { path, node } if *path != self.0.root() => {
                    instance(path, node).map(InstanceChange::Registered)
                }
                CacheEvent::Updated { path, node } if *path != self.0.root() => {
                    instance(path, node).map(InstanceChange::Updated)
                }
                CacheEvent::Removed { path }
                    if *path != self.0.root()
                        && path.rsplit('/').next().and_then(id_of).is_some() =>
                {
                    Some(InstanceChange::Gone { node: path.clone() })
                }
                CacheEvent::Resynchronized | CacheEvent::Lagged(_) => {
                    Some(InstanceChange::Resynchronized)
                }
                _ => None,
            };
            if let Some(change) = change {
                return Some(change);
            }
        }
    }
}

impl<C> std::ops::Deref for ServiceCache<C> {
    type Target = TreeCache<C>;

    fn deref(&self) -> &TreeCache<C> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_protection_marker() {
        let marker = crate::protected::new_marker();
        assert_eq!(marker.len(), MARKER_LEN);
        assert_eq!(id_of(&format!("{marker}host-a:80")), Some("host-a:80"));
        assert_eq!(id_of("plain"), None);
        assert_eq!(id_of("_c_short-x"), None);
    }
}
