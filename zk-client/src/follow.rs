//! Following the ensemble's configuration ([`crate::ClientBuilder::follow_ensemble`]): a task
//! that reads the config node with a watch and, each time its version grows, hands the
//! members' client addresses to the session ([`zk_session::Session::update_hosts`]), which
//! moves the connection only as much as spreading clients over the new ensemble needs. Java's
//! `updateServerList` as its documentation says to drive it (sync, read the config, compare
//! versions), and Curator's `EnsembleTracker`.

use std::marker::PhantomData;
use std::sync::Arc;

use zk_session::ensemble::EnsembleConfig;

use crate::client::Client;
use crate::runtime::BoxFuture;
use crate::{SessionState, WatchEvent};

impl<R: 'static> Client<R> {
    /// The task that follows the ensemble for this client's session. It holds a handle only
    /// while it calls, so that the application's dropping its last handle still closes the
    /// session; it ends with the session.
    pub(crate) fn ensemble_follower(&self) -> BoxFuture<()> {
        let shared = self.shared.clone();
        let closer = Arc::downgrade(&self.closer);
        let call_timeout = self.call_timeout;
        Box::pin(async move {
            let mut version: Option<i64> = None;
            loop {
                let Some(closer) = closer.upgrade() else {
                    return;
                };
                let client = Client::<R> {
                    shared: shared.clone(),
                    closer,
                    call_timeout,
                    runtime: PhantomData,
                };
                let mut states = client.state_watcher();
                // A sync first, so that the config read is as new as the leader's.
                let _ = client.sync("/").await;
                let read = client.get_config_and_watch().await;
                drop(client);
                let watch = match read {
                    Ok(((data, _), watch)) => {
                        follow(&shared, &data, &mut version);
                        watch
                    }
                    Err(e) if e.common().is_some_and(|c| c.is_terminal()) => return,
                    Err(e) if e.common().is_some() => {
                        // The connection was lost: read again once it is back.
                        let back = states
                            .wait_for(|s| s.is_connected() || s.is_terminal())
                            .await;
                        if back.is_none_or(SessionState::is_terminal) {
                            return;
                        }
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot follow the ensemble's configuration");
                        return;
                    }
                };
                if let WatchEvent::SessionEnded(_) = watch.await {
                    return;
                }
            }
        })
    }
}

/// Applies the configuration `data` when it is newer than `version`.
fn follow(shared: &crate::adapter::Shared, data: &[u8], version: &mut Option<i64>) {
    let config = match EnsembleConfig::parse(&String::from_utf8_lossy(data)) {
        Ok(config) => config,
        Err(e) => {
            tracing::warn!(error = %e, "the ensemble's configuration cannot be read");
            return;
        }
    };
    if config.version.is_some() && config.version <= *version {
        return;
    }
    let hosts = config.client_hosts();
    if hosts.is_empty() || hosts.len() < config.members.len() {
        // A member without a client address: the list would be partial.
        tracing::warn!("the ensemble's configuration does not give every member's client address");
        return;
    }
    *version = config.version;
    match shared.update_hosts(hosts) {
        Ok(moved) => tracing::info!(version = ?config.version, moved, "following the ensemble"),
        Err(e) => tracing::warn!(error = %e, "cannot follow the ensemble"),
    }
}
