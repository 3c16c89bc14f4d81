//! Watch registrations against the server's watch tables, including the one-watch-mode-per-path
//! rule of 3.8 servers (ZOOKEEPER-4466) and the persistent watches a removal strips
//! (ZOOKEEPER-4471).

use super::*;

impl Session {
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

    /// A one-shot watch on a path that holds (or is about to hold) a persistent watch sets no
    /// server watch: servers before 3.9 keep one watch mode per path and session
    /// (ZOOKEEPER-4466), so it would turn the persistent watch into a one-shot one. The
    /// persistent watch's events serve the one-shot registration instead.
    ///
    /// Decided at submission; should the persistent watch be gone by the time the reply comes
    /// (it failed, expired while queued, or was removed meanwhile), [`Session::finish`] re-arms
    /// the one-shot with SetWatches from the reply's zxid, so no change is missed.
    pub(super) fn share_persistent_watch(&self, prepared: &mut Prepared) {
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
                    if p == path && kind.displaces(*on_ok))
            });
        if !persistent_pending && !self.watches.one_shot_would_replace_persistent(path, kind) {
            return;
        }
        if super::outbox::clear_watch_flag(&mut prepared.request) {
            *shared = true;
        }
    }

    /// A removal of a path's data or child watches strips a persistent watch there from one of
    /// the server's two watch tables on 3.8 (ZOOKEEPER-4471): it would then miss those events
    /// for good. Sets every persistent watch of the path again, and tells each one that events
    /// may have been missed in between (on later servers the removal did not touch them, and
    /// setting them again changes nothing).
    pub(super) fn restore_persistent_watches(&mut self, path: &str, now: Instant) {
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
    pub(super) fn rearm_shared_watch(&mut self, path: &str, kind: WatchKind, now: Instant) {
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
    pub(super) fn remove_unneeded_watches(&mut self, now: Instant) {
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
