//! Operations on nodes: create, delete, exists, get/set data, children, ACLs, counts.

use std::time::Duration;

use bytes::Bytes;
use zk_proto::create_mode::MAX_TTL_MS;
use zk_proto::{
    Acl, AclList, CreateMode, CreateRequest, CreateTtlRequest, DeleteRequest, PathRequest,
    PathWatchRequest, Request, Response, SetAclRequest, SetDataRequest, Stat,
};

use super::errors::*;
use super::{unexpected, AfterReply, Operation, Paths, Prepared};
use crate::error::CommonError;
use crate::watches::WatchKind;

fn version_or_any(version: Option<i32>) -> i32 {
    version.unwrap_or(-1)
}

/// A created node: its path (with the sequence suffix, relative to the chroot) and its stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The node's path.
    pub path: String,
    /// The new node's stat.
    pub stat: Stat,
}

/// Create a node. Uses create2 (15), createContainer (19) or createTTL (21) as the mode needs,
/// so the stat always comes back and containers are real containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    /// The node's path; for sequential modes the server appends a 10-digit counter.
    pub path: String,
    /// Initial data.
    pub data: Bytes,
    /// Send the data as null (Java's `create(path, null, ...)`): readers that ask
    /// ([`GetDataOrNull`]) tell it apart from empty; `data` is then not sent.
    pub null_data: bool,
    /// The node's ACL (default: open to everybody).
    pub acl: AclList,
    /// How the node is created.
    pub mode: CreateMode,
    /// Time to live, required by the TTL modes and refused by the others.
    pub ttl: Option<Duration>,
}

impl Create {
    /// A persistent node with an open ACL.
    pub fn new(path: impl Into<String>, data: impl Into<Bytes>) -> Create {
        Create {
            path: path.into(),
            data: data.into(),
            null_data: false,
            acl: AclList::Borrowed(Acl::OPEN_UNSAFE),
            mode: CreateMode::Persistent,
            ttl: None,
        }
    }

    /// Creates the node with null data instead (see [`Create::null_data`]).
    pub fn null(mut self) -> Create {
        self.null_data = true;
        self.data = Bytes::new();
        self
    }

    /// The data as sent: `None` for null.
    pub(crate) fn wire_data(&self) -> Option<Bytes> {
        (!self.null_data).then(|| self.data.clone())
    }

    /// Sets the mode.
    pub fn mode(mut self, mode: CreateMode) -> Create {
        self.mode = mode;
        self
    }

    /// Sets the ACL.
    pub fn acl(mut self, acl: impl Into<AclList>) -> Create {
        self.acl = acl.into();
        self
    }

    /// Sets the time to live (TTL modes only).
    pub fn ttl(mut self, ttl: Duration) -> Create {
        self.ttl = Some(ttl);
        self
    }

    pub(crate) fn ttl_ms(&self) -> Result<Option<i64>, CommonError> {
        match (self.mode.is_ttl(), self.ttl) {
            (true, Some(ttl)) => {
                let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
                if ms <= 0 || ms > MAX_TTL_MS {
                    Err(CommonError::InvalidArgument(
                        "TTL must be between 1 ms and 2^40-1 ms",
                    ))
                } else {
                    Ok(Some(ms))
                }
            }
            (true, None) => Err(CommonError::InvalidArgument("TTL mode needs a TTL")),
            (false, Some(_)) => Err(CommonError::InvalidArgument(
                "a TTL is only valid with a TTL mode",
            )),
            (false, None) => Ok(None),
        }
    }

    pub(crate) fn validate_acl(&self) -> Result<(), CommonError> {
        if self.acl.is_empty() {
            return Err(CommonError::InvalidArgument(
                "an ACL needs at least one entry",
            ));
        }
        Ok(())
    }
}

impl Operation for Create {
    type Output = Created;
    type Error = OpError<CreateError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        let path = paths.server_path(&self.path, self.mode.is_sequential())?;
        self.validate_acl()?;
        let ttl = self.ttl_ms()?;
        let flags = self.mode.flags();
        let request = match (self.mode, ttl) {
            (_, Some(ttl)) => Request::CreateTtl(CreateTtlRequest {
                path,
                data: self.wire_data(),
                acl: self.acl.clone(),
                flags,
                ttl,
            }),
            (CreateMode::Container, None) => Request::CreateContainer(CreateRequest {
                path,
                data: self.wire_data(),
                acl: self.acl.clone(),
                flags,
            }),
            _ => Request::Create2(CreateRequest {
                path,
                data: self.wire_data(),
                acl: self.acl.clone(),
                flags,
            }),
        };
        Ok(Prepared::plain(request))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<Created, OpError<CreateError>> {
        match result {
            Ok(Response::Create2(r)) => Ok(Created {
                path: r.path,
                stat: r.stat,
            }),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(CreateError::from_failure(e, -1))),
        }
    }
}

/// Delete a node, optionally only at a given version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// The node's path.
    pub path: String,
    /// The expected data version; `None` for any.
    pub version: Option<i32>,
}

impl Delete {
    /// Delete `path` whatever its version.
    pub fn new(path: impl Into<String>) -> Delete {
        Delete {
            path: path.into(),
            version: None,
        }
    }

    /// Only if the data version is `version`.
    pub fn version(mut self, version: i32) -> Delete {
        self.version = Some(version);
        self
    }
}

impl Operation for Delete {
    type Output = ();
    type Error = OpError<DeleteError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        Ok(Prepared::plain(Request::Delete(DeleteRequest {
            path: paths.server_path(&self.path, false)?,
            version: version_or_any(self.version),
        })))
    }

    fn complete(&self, result: Result<Response, CommonError>) -> Result<(), OpError<DeleteError>> {
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(self.error(DeleteError::from_failure(e, version_or_any(self.version)))),
        }
    }
}

macro_rules! path_watch_op {
    (
        $(#[$meta:meta])*
        $name:ident, $variant:ident, on_ok: $on_ok:expr, on_no_node: $on_no_node:expr
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The node's path.
            pub path: String,
            /// Whether to leave a one-shot watch.
            pub watch: bool,
        }

        impl $name {
            /// Without a watch.
            pub fn new(path: impl Into<String>) -> $name {
                $name {
                    path: path.into(),
                    watch: false,
                }
            }

            /// Leave a one-shot watch; it is identified by the request's id
            /// ([`crate::RequestId::watch_id`]).
            pub fn watch(mut self) -> $name {
                self.watch = true;
                self
            }

            fn prepare_request(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
                let path = paths.server_path(&self.path, false)?;
                let after = if self.watch {
                    AfterReply::Watch {
                        path: path.clone(),
                        on_ok: $on_ok,
                        on_no_node: $on_no_node,
                        shared: false,
                    }
                } else {
                    AfterReply::Nothing
                };
                Ok(Prepared {
                    request: Request::$variant(PathWatchRequest {
                        path,
                        watch: self.watch,
                    }),
                    after,
                })
            }
        }
    };
}

path_watch_op!(
    /// Stat a node; `Ok(None)` when it does not exist. A watch is left either way: a data watch
    /// on an existing node, an exist watch (fires on creation) on a missing one.
    Exists, Exists, on_ok: WatchKind::Data, on_no_node: Some(WatchKind::Exist)
);
path_watch_op!(
    /// Read a node's data and stat.
    GetData, GetData, on_ok: WatchKind::Data, on_no_node: None
);
path_watch_op!(
    /// List a node's children (names, in the server's order) with the node's stat.
    GetChildren, GetChildren2, on_ok: WatchKind::Child, on_no_node: None
);

impl Operation for Exists {
    type Output = Option<Stat>;
    type Error = OpError<ExistsError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        self.prepare_request(paths)
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<Option<Stat>, OpError<ExistsError>> {
        match result {
            Ok(Response::Stat(r)) => Ok(Some(r.stat)),
            Ok(_) => Err(self.fail(unexpected())),
            Err(CommonError::Server(zk_proto::ErrorCode::NoNode)) => Ok(None),
            Err(e) => Err(self.error(ExistsError::from_failure(e, -1))),
        }
    }
}

impl Operation for GetData {
    type Output = (Bytes, Stat);
    type Error = OpError<GetDataError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        self.prepare_request(paths)
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<(Bytes, Stat), OpError<GetDataError>> {
        match result {
            Ok(Response::GetData(r)) => Ok((r.data.unwrap_or_default(), r.stat)),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(GetDataError::from_failure(e, -1))),
        }
    }
}

impl GetData {
    /// The read that tells null data (`None`) apart from empty.
    pub fn or_null(self) -> GetDataOrNull {
        GetDataOrNull(self)
    }
}

/// [`GetData`] telling null data apart: `(None, stat)` for a node created or set with null
/// data ([`Create::null`], [`SetData::null`], Java's `null`), `(Some(empty), stat)` for empty
/// data. (Both have a `data_length` of 0 in the stat.) [`GetData`] reads null as empty, which
/// is what most applications want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetDataOrNull(pub GetData);

impl Operation for GetDataOrNull {
    type Output = (Option<Bytes>, Stat);
    type Error = OpError<GetDataError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.0.fail(failure)
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        self.0.prepare_request(paths)
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<(Option<Bytes>, Stat), OpError<GetDataError>> {
        match result {
            Ok(Response::GetData(r)) => Ok((r.data, r.stat)),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.0.error(GetDataError::from_failure(e, -1))),
        }
    }
}

impl Operation for GetChildren {
    type Output = (Vec<String>, Stat);
    type Error = OpError<GetChildrenError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        self.prepare_request(paths)
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<(Vec<String>, Stat), OpError<GetChildrenError>> {
        match result {
            Ok(Response::GetChildren2(r)) => Ok((r.children, r.stat)),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(GetChildrenError::from_failure(e, -1))),
        }
    }
}

/// Replace a node's data, optionally only at a given version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetData {
    /// The node's path.
    pub path: String,
    /// The new data.
    pub data: Bytes,
    /// Send the data as null (see [`Create::null_data`]); `data` is then not sent.
    pub null_data: bool,
    /// The expected data version; `None` for any.
    pub version: Option<i32>,
}

impl SetData {
    /// Set `data` whatever the version.
    pub fn new(path: impl Into<String>, data: impl Into<Bytes>) -> SetData {
        SetData {
            path: path.into(),
            data: data.into(),
            null_data: false,
            version: None,
        }
    }

    /// Sets null data instead (see [`Create::null_data`]).
    pub fn null(mut self) -> SetData {
        self.null_data = true;
        self.data = Bytes::new();
        self
    }

    /// The data as sent: `None` for null.
    pub(crate) fn wire_data(&self) -> Option<Bytes> {
        (!self.null_data).then(|| self.data.clone())
    }

    /// Only if the data version is `version`.
    pub fn version(mut self, version: i32) -> SetData {
        self.version = Some(version);
        self
    }
}

impl Operation for SetData {
    type Output = Stat;
    type Error = OpError<SetDataError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        Ok(Prepared::plain(Request::SetData(SetDataRequest {
            path: paths.server_path(&self.path, false)?,
            data: self.wire_data(),
            version: version_or_any(self.version),
        })))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<Stat, OpError<SetDataError>> {
        match result {
            Ok(Response::Stat(r)) => Ok(r.stat),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(SetDataError::from_failure(e, version_or_any(self.version)))),
        }
    }
}

/// Read a node's ACL and stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAcl {
    /// The node's path.
    pub path: String,
}

impl GetAcl {
    /// The ACL of `path`.
    pub fn new(path: impl Into<String>) -> GetAcl {
        GetAcl { path: path.into() }
    }
}

impl Operation for GetAcl {
    type Output = (Vec<Acl>, Stat);
    type Error = OpError<GetAclError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        Ok(Prepared::plain(Request::GetAcl(PathRequest {
            path: paths.server_path(&self.path, false)?,
        })))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<(Vec<Acl>, Stat), OpError<GetAclError>> {
        match result {
            Ok(Response::GetAcl(r)) => Ok((r.acl.into_owned(), r.stat)),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(GetAclError::from_failure(e, -1))),
        }
    }
}

/// Replace a node's ACL, optionally only at a given ACL version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAcl {
    /// The node's path.
    pub path: String,
    /// The new ACL.
    pub acl: AclList,
    /// The expected ACL version (`aversion`); `None` for any.
    pub version: Option<i32>,
}

impl SetAcl {
    /// Set `acl` whatever the ACL version.
    pub fn new(path: impl Into<String>, acl: impl Into<AclList>) -> SetAcl {
        SetAcl {
            path: path.into(),
            acl: acl.into(),
            version: None,
        }
    }

    /// Only if the ACL version is `version`.
    pub fn version(mut self, version: i32) -> SetAcl {
        self.version = Some(version);
        self
    }
}

impl Operation for SetAcl {
    type Output = Stat;
    type Error = OpError<SetAclError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        if self.acl.is_empty() {
            return Err(CommonError::InvalidArgument(
                "an ACL needs at least one entry",
            ));
        }
        Ok(Prepared::plain(Request::SetAcl(SetAclRequest {
            path: paths.server_path(&self.path, false)?,
            acl: self.acl.clone(),
            version: version_or_any(self.version),
        })))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<Stat, OpError<SetAclError>> {
        match result {
            Ok(Response::Stat(r)) => Ok(r.stat),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(SetAclError::from_failure(e, version_or_any(self.version)))),
        }
    }
}

/// List the session's ephemeral nodes whose path starts with a prefix (3.6+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetEphemerals {
    /// The path prefix (`/` for all).
    pub prefix: String,
}

impl GetEphemerals {
    /// The session's ephemerals under `prefix`.
    pub fn new(prefix: impl Into<String>) -> GetEphemerals {
        GetEphemerals {
            prefix: prefix.into(),
        }
    }
}

impl Operation for GetEphemerals {
    type Output = Vec<String>;
    type Error = OpError<GetEphemeralsError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        if !self.prefix.starts_with('/') {
            return Err(crate::path::PathError::NotAbsolute(self.prefix.clone()).into());
        }
        Ok(Prepared::plain(Request::GetEphemerals(PathRequest {
            path: paths.chroot().to_server(&self.prefix),
        })))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<Vec<String>, OpError<GetEphemeralsError>> {
        match result {
            Ok(Response::GetEphemerals(r)) => Ok(r.ephemerals),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(GetEphemeralsError::from_failure(e, -1))),
        }
    }
}

/// Count every descendant of a node (3.6+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAllChildrenNumber {
    /// The node's path.
    pub path: String,
}

impl GetAllChildrenNumber {
    /// The number of descendants of `path`.
    pub fn new(path: impl Into<String>) -> GetAllChildrenNumber {
        GetAllChildrenNumber { path: path.into() }
    }
}

impl Operation for GetAllChildrenNumber {
    type Output = u32;
    type Error = OpError<GetAllChildrenNumberError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        Ok(Prepared::plain(Request::GetAllChildrenNumber(
            PathRequest {
                path: paths.server_path(&self.path, false)?,
            },
        )))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<u32, OpError<GetAllChildrenNumberError>> {
        match result {
            Ok(Response::GetAllChildrenNumber(r)) => Ok(r.total_number.max(0) as u32),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(GetAllChildrenNumberError::from_failure(e, -1))),
        }
    }
}

subject!(Create, "create", path);
subject!(Delete, "delete", path);
subject!(Exists, "exists", path);
subject!(GetData, "get_data", path);
subject!(GetChildren, "get_children", path);
subject!(SetData, "set_data", path);
subject!(GetAcl, "get_acl", path);
subject!(SetAcl, "set_acl", path);
subject!(GetEphemerals, "get_ephemerals", prefix);
subject!(GetAllChildrenNumber, "get_all_children_number", path);
