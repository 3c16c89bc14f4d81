//! Everything the session does about watches: at submission (whether a read sets its watch),
//! on a reply (the registration it makes, a removal's consequences), on a notification
//! (delivery), and when a registration is forgotten. The rules of the server's watch tables it
//! follows are in [`crate::watches::server_rules`]; this is the only place that acts on them.

use super::*;
use crate::watches::server_rules;

impl Session {
    /// Decides at submission how `prepared` sets its watch; returns whether the registration
    /// its reply makes is to be forgotten at once (`watch_wanted` false, and the request could
    /// not simply be sent without its watch flag).
    pub(super) fn prepare_watch(&mut self, prepared: &mut Prepared, watch_wanted: bool) -> bool {
        let watch_unwanted = !watch_wanted && !drop_watch_flag(prepared);
        self.share_persistent_watch(prepared);
        watch_unwanted
    }

    /// The reply to a request that sets a watch: registers what it set.
    pub(super) fn watch_reply(
        &mut self,
        entry: &InFlight,
        result: &Result<Response, CommonError>,
        now: Instant,
    ) {
        let AfterReply::Watch {
            path,
            on_ok,
            on_no_node,
            shared,
        } = &entry.after
        else {
            return;
        };
        let kind = match result {
            // An addWatch whose reply body carries an error set nothing.
            Ok(Response::AddWatch(r)) if !r.err.is_ok() => None,
            Ok(_) => Some(*on_ok),
            Err(CommonError::Server(ErrorCode::NoNode)) => *on_no_node,
            Err(_) => None,
        };
        if let (Some(kind), Some(id)) = (kind, entry.id) {
            self.watches.add(path.clone(), kind, id.watch_id());
            if *shared {
                self.rearm_shared_watch(path, kind, now);
            }
        }
    }

    /// After a watch reply has been answered to its caller (who may have forgotten the
    /// registration): a watch it was to set may have been the last need of a kept one.
    pub(super) fn after_watch_reply(&mut self, now: Instant) {
        self.remove_unneeded_watches(now);
    }

    /// The reply to a RemoveWatches: ends the registrations it removed, each with its removal
    /// event, and restores the persistent watches the removal stripped.
    pub(super) fn removal_reply(
        &mut self,
        path: &str,
        watcher_type: WatcherType,
        result: &Result<Response, CommonError>,
        now: Instant,
    ) {
        if !matches!(
            result,
            Ok(_) | Err(CommonError::Server(ErrorCode::NoWatcher))
        ) {
            return;
        }
        let client_path = self.client_path(path);
        let events = &mut self.events;
        self.watches
            .remove_matching(path, watcher_type, |watch, event_type| {
                events.push_back(Event::Watch {
                    watch,
                    notice: WatchNotice::Node {
                        event_type,
                        path: client_path.clone(),
                    },
                });
            });
        if server_rules::removal_strips_persistent(watcher_type) {
            self.restore_persistent_watches(path, now);
        }
    }

    /// A node event from the server: delivers it to every registration it fires.
    pub(super) fn deliver_node_event(&mut self, event_type: EventType, path: &str, now: Instant) {
        let chroot = &self.config.chroot;
        let events = &mut self.events;
        self.watches
            .dispatch(event_type, path, |watch, event_type, path| {
                events.push_back(Event::Watch {
                    watch,
                    notice: WatchNotice::Node {
                        event_type,
                        path: chroot.to_client(path).unwrap_or(path).to_owned(),
                    },
                });
            });
        self.remove_unneeded_watches(now);
    }

    /// Forgets one watch registration (for example because its handle was dropped), or the one
    /// that a request not answered yet will make (then as soon as its reply makes it). When no
    /// other registration needs the server-side watch any more, it is removed from the server
    /// too. No notice is sent to the forgotten registration.
    pub fn forget_watch(&mut self, watch: WatchId, now: Instant) {
        let Some((path, kind, server_type)) = self.watches.remove(watch) else {
            // Not registered yet: if its request is still to be answered, the registration its
            // reply makes is forgotten at once.
            let pending = self
                .in_flight
                .iter_mut()
                .chain(self.queued.iter_mut().map(|q| &mut q.request))
                .find(|r| r.id.map(RequestId::watch_id) == Some(watch));
            if let Some(request) = pending {
                request.watch_unwanted = true;
            }
            return;
        };
        if let Some(watcher_type) = server_type {
            if self.state.is_terminal() || self.is_closing() {
                return;
            }
            if self.watch_pending_on(&path) {
                // A request not answered yet sets a watch on the same path: removing the
                // server's watch now would silently disarm the one it sets. A one-shot server
                // watch goes by itself when it fires; a persistent one is removed once the
                // registration that request makes is gone too.
                if !kind.is_one_shot() {
                    self.watches.mark_lingering(path);
                }
                return;
            }
            self.enqueue_own(
                Request::RemoveWatches(WatchesRequest { path, watcher_type }),
                now,
            );
        }
    }

    /// Whether a request not answered yet will register a watch on `path`.
    pub(super) fn watch_pending_on(&self, path: &str) -> bool {
        self.in_flight
            .iter()
            .chain(self.queued.iter().map(|q| &q.request))
            .any(|r| matches!(&r.after, AfterReply::Watch { path: p, .. } if p == path))
    }

    /// Rule 1 of [`server_rules`]: a one-shot watch on a path that holds (or is about to hold)
    /// a persistent watch it would displace sets no server watch; the persistent watch's events
    /// serve the one-shot registration instead.
    ///
    /// Decided at submission; should the persistent watch be gone by the time the reply comes
    /// (it failed, expired while queued, or was removed meanwhile), [`Session::watch_reply`]
    /// re-arms the one-shot with SetWatches from the reply's zxid, so no change is missed.
    fn share_persistent_watch(&self, prepared: &mut Prepared) {
        let AfterReply::Watch {
            path,
            on_ok,
            shared,
            ..
        } = &mut prepared.after
        else {
            return;
        };
        if !on_ok.is_one_shot() {
            return;
        }
        let kind = *on_ok;
        let persistent_pending = self
            .in_flight
            .iter()
            .chain(self.queued.iter().map(|q| &q.request))
            .any(|r| {
                matches!(&r.after, AfterReply::Watch { path: p, on_ok, .. }
                    if p == path && server_rules::one_shot_displaces(kind, *on_ok))
            });
        if !persistent_pending && !self.watches.one_shot_would_replace_persistent(path, kind) {
            return;
        }
        if clear_watch_flag(&mut prepared.request) {
            *shared = true;
        }
    }

    /// Rule 2 of [`server_rules`]: a removal of a path's data or child watches strips a
    /// persistent watch there from one of the server's two watch tables, which would then miss
    /// those events for good. Sets every persistent watch of the path again, and tells each
    /// one that events may have been missed in between (on later servers the removal did not
    /// touch them, and setting them again changes nothing).
    fn restore_persistent_watches(&mut self, path: &str, now: Instant) {
        for (watch, kind) in self.watches.persistent_on(path) {
            let mode = match kind {
                WatchKind::PersistentRecursive => zk_proto::AddWatchMode::PersistentRecursive,
                _ => zk_proto::AddWatchMode::Persistent,
            };
            self.enqueue_own(
                Request::AddWatch(zk_proto::AddWatchRequest {
                    path: path.to_owned(),
                    mode,
                }),
                now,
            );
            self.events.push_back(Event::Watch {
                watch,
                notice: WatchNotice::PossiblyMissedEvents,
            });
        }
    }

    /// A one-shot registered without a server watch of its own whose persistent watch is gone:
    /// sets its server watch with SetWatches, relative to the zxid of the reply just read, so
    /// a change since then fires it at once.
    fn rearm_shared_watch(&mut self, path: &str, kind: WatchKind, now: Instant) {
        if self.watches.has_persistent_on(path) {
            return;
        }
        let mut request = zk_proto::SetWatches {
            relative_zxid: self.last_zxid_seen,
            ..Default::default()
        };
        match kind {
            WatchKind::Data => request.data_watches.push(path.to_owned()),
            WatchKind::Exist => request.exist_watches.push(path.to_owned()),
            WatchKind::Child => request.child_watches.push(path.to_owned()),
            _ => return,
        }
        self.enqueue_own(Request::SetWatches(request), now);
    }

    /// Removes the server watches kept for one-shot registrations that are gone, unless a
    /// request not answered yet sets a watch on the same path.
    fn remove_unneeded_watches(&mut self, now: Instant) {
        if self.state.is_terminal() || self.is_closing() {
            return;
        }
        let unneeded: Vec<String> = self
            .watches
            .unneeded_lingering()
            .filter(|p| !self.watch_pending_on(p))
            .cloned()
            .collect();
        for path in unneeded {
            self.watches.forget_lingering(&path);
            self.enqueue_own(
                Request::RemoveWatches(WatchesRequest {
                    path,
                    watcher_type: WatcherType::Any,
                }),
                now,
            );
        }
    }
}

/// For a call whose caller will not receive its watch: sends a watching read without its watch
/// flag, so nothing is set on the server, and returns `true` (also when nothing watches).
/// Returns `false` for a request that is itself a watch (addWatch): the registration its reply
/// makes must be forgotten then.
fn drop_watch_flag(prepared: &mut Prepared) -> bool {
    if !matches!(prepared.after, AfterReply::Watch { .. }) {
        return true;
    }
    let cleared = clear_watch_flag(&mut prepared.request);
    if cleared {
        prepared.after = AfterReply::Nothing;
    }
    cleared
}

/// Sends a read that can carry a watch flag (getData, exists, getChildren) without it; returns
/// whether `request` is such a read.
fn clear_watch_flag(request: &mut Request) -> bool {
    match request {
        Request::GetData(r)
        | Request::Exists(r)
        | Request::GetChildren(r)
        | Request::GetChildren2(r) => {
            r.watch = false;
            true
        }
        _ => false,
    }
}
