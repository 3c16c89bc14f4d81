//! [`Api`]: the client API as async methods, implemented once for the async client handle
//! (`zk_client::Client<R>`, which is `zk_tokio::Client` and `zk_async_std::Client`) and once
//! for `zk_blocking::Client`.
//!
//! Every method mirrors the client method of the same name, with the same argument, result and
//! error types, so a scenario written against `Api` reads like user code.
//!
//! Submission timing, which scenarios about ordering rely on: the async handle submits a
//! request when the method is *called*; the blocking client performs the whole call when the
//! method is called and returns a future that is already complete. Either way a request is on
//! its way, in call order, once the method has returned.

use std::future::{ready, Future};
use std::time::Duration;

use bytes::Bytes;
use zk_client::ops::{self, OpResult, ReadResult};
use zk_client::proto::{
    Acl, AclList, AddWatchMode, ClientInfo, CreateMode, ErrorCode, SessionId, Stat, WatcherType,
};
use zk_client::{HostAddr, SessionState, StateWatcher, Watch, WatchStream};

/// The client API every adapter offers, as futures. See the module documentation for when
/// requests are submitted.
pub trait Api: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// `create`: a node with an open ACL in `mode`.
    fn create(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        mode: CreateMode,
    ) -> impl Future<Output = Result<ops::Created, ops::CreateError>> + Send;

    /// `create_with`: a node with every option (ACL, TTL).
    fn create_with(
        &self,
        create: ops::Create,
    ) -> impl Future<Output = Result<ops::Created, ops::CreateError>> + Send;

    /// Submits a create and stops waiting for its result at once: the async handle drops the
    /// call's future, the blocking client makes the call with a zero call timeout (so it
    /// returns `RequestTimeout` while the request stays in flight). The request must still be
    /// applied, and the session must not notice.
    fn create_abandoned(&self, path: &str, data: impl Into<Bytes>, mode: CreateMode);

    /// Submits an `add_watch` and stops waiting for it at once, like
    /// [`Api::create_abandoned`]. The watch's handle is never given out, so the session must
    /// not keep the server watch.
    fn add_watch_abandoned(&self, path: &str, mode: AddWatchMode);

    /// `delete`, only at `version` when given.
    fn delete(
        &self,
        path: &str,
        version: Option<i32>,
    ) -> impl Future<Output = Result<(), ops::DeleteError>> + Send;

    /// `exists`.
    fn exists(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<Stat>, ops::ExistsError>> + Send;

    /// `exists_and_watch`.
    fn exists_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Option<Stat>, Watch), ops::ExistsError>> + Send;

    /// `get_data`.
    fn get_data(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Bytes, Stat), ops::GetDataError>> + Send;

    /// `get_data_and_watch`.
    fn get_data_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<((Bytes, Stat), Watch), ops::GetDataError>> + Send;

    /// `set_data`, only at `version` when given.
    fn set_data(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat, ops::SetDataError>> + Send;

    /// `get_children`.
    fn get_children(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat), ops::GetChildrenError>> + Send;

    /// `get_children_and_watch`.
    fn get_children_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<((Vec<String>, Stat), Watch), ops::GetChildrenError>> + Send;

    /// `get_acl`.
    fn get_acl(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<Acl>, Stat), ops::GetAclError>> + Send;

    /// `set_acl`, only at ACL version `version` when given.
    fn set_acl(
        &self,
        path: &str,
        acl: impl Into<AclList>,
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat, ops::SetAclError>> + Send;

    /// `sync`.
    fn sync(&self, path: &str) -> impl Future<Output = Result<String, ops::SyncError>> + Send;

    /// `multi`.
    fn multi(
        &self,
        multi: ops::Multi,
    ) -> impl Future<Output = Result<Vec<OpResult>, ops::MultiError>> + Send;

    /// `multi_read`.
    fn multi_read(
        &self,
        reads: ops::MultiRead,
    ) -> impl Future<Output = Result<Vec<Result<ReadResult, ErrorCode>>, ops::MultiReadError>> + Send;

    /// `get_ephemerals`.
    fn get_ephemerals(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, ops::GetEphemeralsError>> + Send;

    /// `get_all_children_number`.
    fn get_all_children_number(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<u32, ops::GetAllChildrenNumberError>> + Send;

    /// `add_watch`.
    fn add_watch(
        &self,
        path: &str,
        mode: AddWatchMode,
    ) -> impl Future<Output = Result<WatchStream, ops::AddWatchError>> + Send;

    /// `remove_watches`.
    fn remove_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<(), ops::WatchesError>> + Send;

    /// `check_watches`.
    fn check_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<(), ops::WatchesError>> + Send;

    /// `who_am_i`.
    fn who_am_i(&self) -> impl Future<Output = Result<Vec<ClientInfo>, ops::WhoAmIError>> + Send;

    /// `add_auth`.
    fn add_auth(
        &self,
        scheme: &str,
        auth: impl Into<Bytes>,
    ) -> impl Future<Output = Result<(), ops::AddAuthError>> + Send;

    /// `get_config`.
    fn get_config(&self)
        -> impl Future<Output = Result<(Bytes, Stat), ops::GetConfigError>> + Send;

    /// `close`: the final state.
    fn close(&self) -> impl Future<Output = SessionState> + Send;

    /// The session's state now.
    fn state(&self) -> SessionState;

    /// An observer of the session's state.
    fn state_watcher(&self) -> StateWatcher;

    /// The server the session is connected (or connecting) to.
    fn current_host(&self) -> Option<HostAddr>;

    /// The session's id.
    fn session_id(&self) -> SessionId;

    /// The session's password.
    fn session_password(&self) -> Bytes;

    /// The negotiated session timeout.
    fn negotiated_timeout(&self) -> Option<Duration>;

    /// `end_reason`.
    fn end_reason(&self) -> Option<zk_client::SessionEnd>;

    /// Calls submitted and not completed, counted only when no request waits to be written
    /// to a ready connection (a test hook, read from the session: a blocking call spawned on a
    /// thread counts once it has submitted and written its request; while disconnected, calls
    /// waiting for a connection count).
    fn calls_outstanding(&self) -> usize;
}

impl<R: Send + Sync + 'static> Api for zk_client::Client<R> {
    fn create(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        mode: CreateMode,
    ) -> impl Future<Output = Result<ops::Created, ops::CreateError>> + Send {
        zk_client::Client::create(self, path, data, mode)
    }

    fn create_with(
        &self,
        create: ops::Create,
    ) -> impl Future<Output = Result<ops::Created, ops::CreateError>> + Send {
        zk_client::Client::create_with(self, create)
    }

    fn create_abandoned(&self, path: &str, data: impl Into<Bytes>, mode: CreateMode) {
        drop(zk_client::Client::create(self, path, data, mode));
    }

    fn add_watch_abandoned(&self, path: &str, mode: AddWatchMode) {
        drop(zk_client::Client::add_watch(self, path, mode));
    }

    fn delete(
        &self,
        path: &str,
        version: Option<i32>,
    ) -> impl Future<Output = Result<(), ops::DeleteError>> + Send {
        zk_client::Client::delete(self, path, version)
    }

    fn exists(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<Stat>, ops::ExistsError>> + Send {
        zk_client::Client::exists(self, path)
    }

    fn exists_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Option<Stat>, Watch), ops::ExistsError>> + Send {
        zk_client::Client::exists_and_watch(self, path)
    }

    fn get_data(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Bytes, Stat), ops::GetDataError>> + Send {
        zk_client::Client::get_data(self, path)
    }

    fn get_data_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<((Bytes, Stat), Watch), ops::GetDataError>> + Send {
        zk_client::Client::get_data_and_watch(self, path)
    }

    fn set_data(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat, ops::SetDataError>> + Send {
        zk_client::Client::set_data(self, path, data, version)
    }

    fn get_children(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat), ops::GetChildrenError>> + Send {
        zk_client::Client::get_children(self, path)
    }

    fn get_children_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<((Vec<String>, Stat), Watch), ops::GetChildrenError>> + Send
    {
        zk_client::Client::get_children_and_watch(self, path)
    }

    fn get_acl(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<Acl>, Stat), ops::GetAclError>> + Send {
        zk_client::Client::get_acl(self, path)
    }

    fn set_acl(
        &self,
        path: &str,
        acl: impl Into<AclList>,
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat, ops::SetAclError>> + Send {
        zk_client::Client::set_acl(self, path, acl, version)
    }

    fn sync(&self, path: &str) -> impl Future<Output = Result<String, ops::SyncError>> + Send {
        zk_client::Client::sync(self, path)
    }

    fn multi(
        &self,
        multi: ops::Multi,
    ) -> impl Future<Output = Result<Vec<OpResult>, ops::MultiError>> + Send {
        zk_client::Client::multi(self, multi)
    }

    fn multi_read(
        &self,
        reads: ops::MultiRead,
    ) -> impl Future<Output = Result<Vec<Result<ReadResult, ErrorCode>>, ops::MultiReadError>> + Send
    {
        zk_client::Client::multi_read(self, reads)
    }

    fn get_ephemerals(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, ops::GetEphemeralsError>> + Send {
        zk_client::Client::get_ephemerals(self, prefix)
    }

    fn get_all_children_number(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<u32, ops::GetAllChildrenNumberError>> + Send {
        zk_client::Client::get_all_children_number(self, path)
    }

    fn add_watch(
        &self,
        path: &str,
        mode: AddWatchMode,
    ) -> impl Future<Output = Result<WatchStream, ops::AddWatchError>> + Send {
        zk_client::Client::add_watch(self, path, mode)
    }

    fn remove_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<(), ops::WatchesError>> + Send {
        zk_client::Client::remove_watches(self, path, watcher_type)
    }

    fn check_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<(), ops::WatchesError>> + Send {
        zk_client::Client::check_watches(self, path, watcher_type)
    }

    fn who_am_i(&self) -> impl Future<Output = Result<Vec<ClientInfo>, ops::WhoAmIError>> + Send {
        zk_client::Client::who_am_i(self)
    }

    fn add_auth(
        &self,
        scheme: &str,
        auth: impl Into<Bytes>,
    ) -> impl Future<Output = Result<(), ops::AddAuthError>> + Send {
        zk_client::Client::add_auth(self, scheme, auth)
    }

    fn get_config(
        &self,
    ) -> impl Future<Output = Result<(Bytes, Stat), ops::GetConfigError>> + Send {
        zk_client::Client::get_config(self)
    }

    fn close(&self) -> impl Future<Output = SessionState> + Send {
        zk_client::Client::close(self)
    }

    fn state(&self) -> SessionState {
        zk_client::Client::state(self)
    }

    fn state_watcher(&self) -> StateWatcher {
        zk_client::Client::state_watcher(self)
    }

    fn current_host(&self) -> Option<HostAddr> {
        zk_client::Client::current_host(self)
    }

    fn session_id(&self) -> SessionId {
        zk_client::Client::session_id(self)
    }

    fn session_password(&self) -> Bytes {
        zk_client::Client::session_password(self)
    }

    fn negotiated_timeout(&self) -> Option<Duration> {
        zk_client::Client::negotiated_timeout(self)
    }

    fn calls_outstanding(&self) -> usize {
        self.shared()
            .read_session(|s| if s.has_transmit() { 0 } else { s.in_flight() })
    }

    fn end_reason(&self) -> Option<zk_client::SessionEnd> {
        zk_client::Client::end_reason(self)
    }
}

impl Api for zk_blocking::Client {
    fn create(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        mode: CreateMode,
    ) -> impl Future<Output = Result<ops::Created, ops::CreateError>> + Send {
        ready(zk_blocking::Client::create(self, path, data, mode))
    }

    fn create_with(
        &self,
        create: ops::Create,
    ) -> impl Future<Output = Result<ops::Created, ops::CreateError>> + Send {
        ready(zk_blocking::Client::create_with(self, create))
    }

    fn create_abandoned(&self, path: &str, data: impl Into<Bytes>, mode: CreateMode) {
        let impatient = self.with_call_timeout(Some(Duration::ZERO));
        // (A reply faster than the first poll would be fine too.)
        let outcome = zk_blocking::Client::create(&impatient, path, data, mode);
        assert!(
            matches!(
                outcome,
                Ok(_) | Err(ops::CreateError::Common(zk_client::CommonError::RequestTimeout))
            ),
            "a blocking create with a zero call timeout must report RequestTimeout, got {outcome:?}"
        );
    }

    fn add_watch_abandoned(&self, path: &str, mode: AddWatchMode) {
        let impatient = self.with_call_timeout(Some(Duration::ZERO));
        // (A reply faster than the first poll would be fine too: the stream is dropped here.)
        let outcome = zk_blocking::Client::add_watch(&impatient, path, mode);
        assert!(
            matches!(
                outcome,
                Ok(_) | Err(ops::AddWatchError::Common(zk_client::CommonError::RequestTimeout))
            ),
            "a blocking add_watch with a zero call timeout must report RequestTimeout, got {outcome:?}"
        );
    }

    fn delete(
        &self,
        path: &str,
        version: Option<i32>,
    ) -> impl Future<Output = Result<(), ops::DeleteError>> + Send {
        ready(zk_blocking::Client::delete(self, path, version))
    }

    fn exists(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<Stat>, ops::ExistsError>> + Send {
        ready(zk_blocking::Client::exists(self, path))
    }

    fn exists_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Option<Stat>, Watch), ops::ExistsError>> + Send {
        ready(zk_blocking::Client::exists_and_watch(self, path))
    }

    fn get_data(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Bytes, Stat), ops::GetDataError>> + Send {
        ready(zk_blocking::Client::get_data(self, path))
    }

    fn get_data_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<((Bytes, Stat), Watch), ops::GetDataError>> + Send {
        ready(zk_blocking::Client::get_data_and_watch(self, path))
    }

    fn set_data(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat, ops::SetDataError>> + Send {
        ready(zk_blocking::Client::set_data(self, path, data, version))
    }

    fn get_children(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat), ops::GetChildrenError>> + Send {
        ready(zk_blocking::Client::get_children(self, path))
    }

    fn get_children_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<((Vec<String>, Stat), Watch), ops::GetChildrenError>> + Send
    {
        ready(zk_blocking::Client::get_children_and_watch(self, path))
    }

    fn get_acl(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<Acl>, Stat), ops::GetAclError>> + Send {
        ready(zk_blocking::Client::get_acl(self, path))
    }

    fn set_acl(
        &self,
        path: &str,
        acl: impl Into<AclList>,
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat, ops::SetAclError>> + Send {
        ready(zk_blocking::Client::set_acl(self, path, acl, version))
    }

    fn sync(&self, path: &str) -> impl Future<Output = Result<String, ops::SyncError>> + Send {
        ready(zk_blocking::Client::sync(self, path))
    }

    fn multi(
        &self,
        multi: ops::Multi,
    ) -> impl Future<Output = Result<Vec<OpResult>, ops::MultiError>> + Send {
        ready(zk_blocking::Client::multi(self, multi))
    }

    fn multi_read(
        &self,
        reads: ops::MultiRead,
    ) -> impl Future<Output = Result<Vec<Result<ReadResult, ErrorCode>>, ops::MultiReadError>> + Send
    {
        ready(zk_blocking::Client::multi_read(self, reads))
    }

    fn get_ephemerals(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, ops::GetEphemeralsError>> + Send {
        ready(zk_blocking::Client::get_ephemerals(self, prefix))
    }

    fn get_all_children_number(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<u32, ops::GetAllChildrenNumberError>> + Send {
        ready(zk_blocking::Client::get_all_children_number(self, path))
    }

    fn add_watch(
        &self,
        path: &str,
        mode: AddWatchMode,
    ) -> impl Future<Output = Result<WatchStream, ops::AddWatchError>> + Send {
        ready(zk_blocking::Client::add_watch(self, path, mode))
    }

    fn remove_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<(), ops::WatchesError>> + Send {
        ready(zk_blocking::Client::remove_watches(
            self,
            path,
            watcher_type,
        ))
    }

    fn check_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<(), ops::WatchesError>> + Send {
        ready(zk_blocking::Client::check_watches(self, path, watcher_type))
    }

    fn who_am_i(&self) -> impl Future<Output = Result<Vec<ClientInfo>, ops::WhoAmIError>> + Send {
        ready(zk_blocking::Client::who_am_i(self))
    }

    fn add_auth(
        &self,
        scheme: &str,
        auth: impl Into<Bytes>,
    ) -> impl Future<Output = Result<(), ops::AddAuthError>> + Send {
        ready(zk_blocking::Client::add_auth(self, scheme, auth))
    }

    fn get_config(
        &self,
    ) -> impl Future<Output = Result<(Bytes, Stat), ops::GetConfigError>> + Send {
        ready(zk_blocking::Client::get_config(self))
    }

    fn close(&self) -> impl Future<Output = SessionState> + Send {
        ready(zk_blocking::Client::close(self))
    }

    fn state(&self) -> SessionState {
        zk_blocking::Client::state(self)
    }

    fn state_watcher(&self) -> StateWatcher {
        zk_blocking::Client::state_watcher(self)
    }

    fn current_host(&self) -> Option<HostAddr> {
        zk_blocking::Client::current_host(self)
    }

    fn session_id(&self) -> SessionId {
        zk_blocking::Client::session_id(self)
    }

    fn session_password(&self) -> Bytes {
        zk_blocking::Client::session_password(self)
    }

    fn negotiated_timeout(&self) -> Option<Duration> {
        zk_blocking::Client::negotiated_timeout(self)
    }

    fn calls_outstanding(&self) -> usize {
        self.shared()
            .read_session(|s| if s.has_transmit() { 0 } else { s.in_flight() })
    }

    fn end_reason(&self) -> Option<zk_client::SessionEnd> {
        zk_blocking::Client::end_reason(self)
    }
}
