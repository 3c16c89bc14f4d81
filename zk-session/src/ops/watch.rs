//! Persistent watches and watch removal.

use zk_proto::{AddWatchMode, AddWatchRequest, Request, Response, WatcherType, WatchesRequest};

use super::errors::{AddWatchError, OpError, Subject, WatchesError};
use super::{AfterReply, Operation, Paths, Prepared};
use crate::error::CommonError;
use crate::watches::WatchKind;

/// Add a persistent or persistent-recursive watch (3.6+). Its notices carry the request's id
/// ([`crate::RequestId::watch_id`]) until it is removed or the session ends; after each
/// reconnect it is re-registered and told it may have missed events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddWatch {
    /// The node's path (it need not exist).
    pub path: String,
    /// Persistent or persistent-recursive.
    pub mode: AddWatchMode,
}

impl AddWatch {
    /// A watch of `mode` on `path`.
    pub fn new(path: impl Into<String>, mode: AddWatchMode) -> AddWatch {
        AddWatch {
            path: path.into(),
            mode,
        }
    }
}

impl Operation for AddWatch {
    type Output = ();
    type Error = OpError<AddWatchError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        let path = paths.server_path(&self.path, false)?;
        let kind = match self.mode {
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
            _ => WatchKind::Persistent,
        };
        Ok(Prepared {
            request: Request::AddWatch(AddWatchRequest {
                path: path.clone(),
                mode: self.mode,
            }),
            after: AfterReply::Watch {
                path,
                on_ok: kind,
                on_no_node: None,
                shared: false,
            },
        })
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<(), OpError<AddWatchError>> {
        match result {
            Ok(Response::AddWatch(r)) if !r.err.is_ok() => {
                Err(self.error(AddWatchError::from_failure(CommonError::Server(r.err), -1)))
            }
            Ok(_) => Ok(()),
            Err(e) => Err(self.error(AddWatchError::from_failure(e, -1))),
        }
    }
}

/// Remove this session's watches of a type on a path, server-side and locally: every local
/// registration removed receives a `*WatchRemoved` notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveWatches {
    /// The node's path.
    pub path: String,
    /// Which watches.
    pub watcher_type: WatcherType,
}

impl RemoveWatches {
    /// Remove the watches of `watcher_type` on `path`.
    pub fn new(path: impl Into<String>, watcher_type: WatcherType) -> RemoveWatches {
        RemoveWatches {
            path: path.into(),
            watcher_type,
        }
    }
}

impl Operation for RemoveWatches {
    type Output = ();
    type Error = OpError<WatchesError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        let path = paths.server_path(&self.path, false)?;
        Ok(Prepared {
            request: Request::RemoveWatches(WatchesRequest {
                path: path.clone(),
                watcher_type: self.watcher_type,
            }),
            after: AfterReply::RemoveWatches {
                path,
                watcher_type: self.watcher_type,
            },
        })
    }

    fn complete(&self, result: Result<Response, CommonError>) -> Result<(), OpError<WatchesError>> {
        result
            .map(|_| ())
            .map_err(|e| self.error(WatchesError::from_failure(e, -1)))
    }
}

/// Ask whether the server holds a watch of a type on a path for this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckWatches {
    /// The node's path.
    pub path: String,
    /// Which watches.
    pub watcher_type: WatcherType,
}

impl CheckWatches {
    /// Check for watches of `watcher_type` on `path`.
    pub fn new(path: impl Into<String>, watcher_type: WatcherType) -> CheckWatches {
        CheckWatches {
            path: path.into(),
            watcher_type,
        }
    }
}

impl Operation for CheckWatches {
    type Output = ();
    type Error = OpError<WatchesError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        Ok(Prepared::plain(Request::CheckWatches(WatchesRequest {
            path: paths.server_path(&self.path, false)?,
            watcher_type: self.watcher_type,
        })))
    }

    fn complete(&self, result: Result<Response, CommonError>) -> Result<(), OpError<WatchesError>> {
        result
            .map(|_| ())
            .map_err(|e| self.error(WatchesError::from_failure(e, -1)))
    }
}

subject!(AddWatch, "add_watch", path);
subject!(RemoveWatches, "remove_watches", path);
subject!(CheckWatches, "check_watches", path);
