//! Operations about the session rather than one node: sync, whoAmI, auth, config, close.

use bytes::Bytes;
use zk_proto::{
    AuthPacket, ClientInfo, PathRequest, PathWatchRequest, ReconfigRequest, Request, Response, Stat,
};

use super::errors::{
    AddAuthError, CloseError, GetConfigError, OpError, ReconfigError, Subject, SyncError,
    WhoAmIError,
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

/// Change the ensemble's membership (dynamic reconfiguration, 3.5+): incrementally (servers
/// joining and leaving) or as a whole new member list. Answered with the new configuration
/// (the config node's data) and the config node's stat. Needs an ensemble with
/// `reconfigEnabled=true` and a client allowed to write the config node (a super user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconfig {
    /// Server specs to add (`server.4=127.0.0.1:2891:3891:participant;127.0.0.1:2184`).
    pub joining: Vec<String>,
    /// Server ids to remove.
    pub leaving: Vec<u64>,
    /// The whole new member list (non-incremental); `None` for an incremental change.
    pub new_members: Option<Vec<String>>,
    /// The configuration version the change applies to (`None`: any). The config node's
    /// data carries it as `version=<hex>`.
    pub from_config: Option<i64>,
}

impl Reconfig {
    /// An incremental change: `joining` server specs added, `leaving` server ids removed.
    pub fn incremental(
        joining: impl IntoIterator<Item = impl Into<String>>,
        leaving: impl IntoIterator<Item = u64>,
    ) -> Reconfig {
        Reconfig {
            joining: joining.into_iter().map(Into::into).collect(),
            leaving: leaving.into_iter().collect(),
            new_members: None,
            from_config: None,
        }
    }

    /// A non-incremental change: `members` (server specs) become the whole ensemble.
    pub fn replace(members: impl IntoIterator<Item = impl Into<String>>) -> Reconfig {
        Reconfig {
            joining: Vec::new(),
            leaving: Vec::new(),
            new_members: Some(members.into_iter().map(Into::into).collect()),
            from_config: None,
        }
    }

    /// Only if the current configuration's version is `version`.
    pub fn from_config(mut self, version: i64) -> Reconfig {
        self.from_config = Some(version);
        self
    }
}

impl Operation for Reconfig {
    type Output = (Bytes, Stat);
    type Error = OpError<ReconfigError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, _paths: &mut Paths) -> Result<Prepared, CommonError> {
        let list = |items: Vec<String>| (!items.is_empty()).then(|| items.join(","));
        let (joining, leaving, new_members) = match &self.new_members {
            // Null joining and leaving lists with the new member list: Java's
            // `reconfigure(null, null, members, ...)`.
            Some(members) => (None, None, Some(members.join(","))),
            // A null member list makes the change incremental (the server tells null apart
            // from empty).
            None => (
                list(self.joining.clone()),
                list(self.leaving.iter().map(u64::to_string).collect()),
                None,
            ),
        };
        if self.new_members.is_none() && joining.is_none() && leaving.is_none() {
            return Err(CommonError::InvalidArgument(
                "an incremental reconfig needs a server joining or leaving",
            ));
        }
        Ok(Prepared::plain(Request::Reconfig(ReconfigRequest {
            joining_servers: joining,
            leaving_servers: leaving,
            new_members,
            cur_config_id: self.from_config.unwrap_or(-1),
        })))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<(Bytes, Stat), OpError<ReconfigError>> {
        match result {
            Ok(Response::GetData(r)) => Ok((r.data.unwrap_or_default(), r.stat)),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(ReconfigError::from_failure(
                e,
                self.from_config.map_or(-1, |v| v as i32),
            ))),
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
subject!(Reconfig, "reconfig", none);
subject!(CloseSession, "close", none);
