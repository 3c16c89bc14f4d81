//! Operations about the session rather than one node: sync, whoAmI, auth, config, close.

use bytes::Bytes;
use zk_proto::{AuthPacket, ClientInfo, PathRequest, PathWatchRequest, Request, Response, Stat};

use super::errors::{
    AddAuthError, CloseError, GetConfigError, OpError, Subject, SyncError, WhoAmIError,
};
use super::{unexpected, AfterReply, Operation, Paths, Prepared};
use crate::error::CommonError;
use crate::watches::WatchKind;

/// Make the connected server catch up with the leader before the next read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sync {
    /// The path to sync.
    pub path: String,
}

impl Sync {
    /// Sync `path`.
    pub fn new(path: impl Into<String>) -> Sync {
        Sync { path: path.into() }
    }
}

impl Operation for Sync {
    type Output = String;
    type Error = OpError<SyncError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        Ok(Prepared::plain(Request::Sync(PathRequest {
            path: paths.server_path(&self.path, false)?,
        })))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<String, OpError<SyncError>> {
        match result {
            Ok(Response::Sync(r)) => Ok(r.path),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(SyncError::from_failure(e, -1))),
        }
    }
}

/// Ask which identities the server attributes to this session (3.7+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WhoAmI;

impl Operation for WhoAmI {
    type Output = Vec<ClientInfo>;
    type Error = OpError<WhoAmIError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, _paths: &mut Paths) -> Result<Prepared, CommonError> {
        Ok(Prepared::plain(Request::WhoAmI))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<Vec<ClientInfo>, OpError<WhoAmIError>> {
        match result {
            Ok(Response::WhoAmI(r)) => Ok(r.client_info),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(WhoAmIError::from_failure(e, -1))),
        }
    }
}

/// Add a credential to the session. It is presented at once and again on every new connection
/// before anything else. A credential the server refuses (an unknown scheme) ends the session
/// with AuthFailed; on 3.8 a malformed digest credential is accepted and simply matches no ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddAuth {
    /// The scheme (`digest`, ...).
    pub scheme: String,
    /// The credential (`user:password` for digest).
    pub auth: Bytes,
}

impl AddAuth {
    /// A credential of `scheme`.
    pub fn new(scheme: impl Into<String>, auth: impl Into<Bytes>) -> AddAuth {
        AddAuth {
            scheme: scheme.into(),
            auth: auth.into(),
        }
    }

    /// A `digest` credential `user:password`.
    pub fn digest(user: &str, password: &str) -> AddAuth {
        AddAuth::new("digest", Bytes::from(format!("{user}:{password}")))
    }
}

impl Operation for AddAuth {
    type Output = ();
    type Error = OpError<AddAuthError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, _paths: &mut Paths) -> Result<Prepared, CommonError> {
        if self.scheme.is_empty() {
            return Err(CommonError::InvalidArgument(
                "an auth scheme must not be empty",
            ));
        }
        Ok(Prepared::plain(Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: self.scheme.clone(),
            auth: self.auth.clone(),
        })))
    }

    fn complete(&self, result: Result<Response, CommonError>) -> Result<(), OpError<AddAuthError>> {
        result
            .map(|_| ())
            .map_err(|e| self.error(AddAuthError::from_failure(e, -1)))
    }
}

/// Read the ensemble's configuration (`/zookeeper/config`, outside any chroot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetConfig {
    /// Whether to leave a one-shot watch on the config node.
    pub watch: bool,
}

/// The config node's path.
pub const CONFIG_NODE: &str = "/zookeeper/config";

impl GetConfig {
    /// Without a watch.
    pub fn new() -> GetConfig {
        GetConfig::default()
    }

    /// Leave a one-shot watch.
    pub fn watch(mut self) -> GetConfig {
        self.watch = true;
        self
    }
}

impl Operation for GetConfig {
    type Output = (Bytes, Stat);
    type Error = OpError<GetConfigError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, _paths: &mut Paths) -> Result<Prepared, CommonError> {
        Ok(Prepared {
            request: Request::GetData(PathWatchRequest {
                path: CONFIG_NODE.to_owned(),
                watch: self.watch,
            }),
            after: if self.watch {
                AfterReply::Watch {
                    path: CONFIG_NODE.to_owned(),
                    on_ok: WatchKind::Data,
                    on_no_node: None,
                    shared: false,
                }
            } else {
                AfterReply::Nothing
            },
        })
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<(Bytes, Stat), OpError<GetConfigError>> {
        match result {
            Ok(Response::GetData(r)) => Ok((r.data.unwrap_or_default(), r.stat)),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(GetConfigError::from_failure(e, -1))),
        }
    }
}

/// Close the session (used by [`crate::Session::close`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseSession;

impl Operation for CloseSession {
    type Output = ();
    type Error = OpError<CloseError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, _paths: &mut Paths) -> Result<Prepared, CommonError> {
        Ok(Prepared::plain(Request::CloseSession))
    }

    fn complete(&self, result: Result<Response, CommonError>) -> Result<(), OpError<CloseError>> {
        result
            .map(|_| ())
            .map_err(|e| self.error(CloseError::from_failure(e, -1)))
    }
}

subject!(Sync, "sync", path);
subject!(WhoAmI, "who_am_i", none);
subject!(AddAuth, "add_auth", none);
subject!(GetConfig, "get_config", none);
subject!(CloseSession, "close", none);
