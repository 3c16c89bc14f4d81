//! Typed operations: for each call of the API, how its request is built and how its reply
//! becomes the call's result or its own error enum.
//!
//! A driver submits an operation with [`crate::Session::submit`], keeps it, and when the
//! matching [`crate::Completion`] arrives calls [`Operation::complete`] with it. Nothing about
//! opcodes, chroots or error codes is left for the driver to know.

use zk_proto::{Request, Response};

use crate::error::CommonError;
use crate::path::{validate_path, Chroot};
use crate::watches::WatchKind;

/// Names an operation and says where its path is, for its errors ([`OpError`]):
/// `subject!(GetData, "get_data", path)` (the field holding the path) or
/// `subject!(WhoAmI, "who_am_i", none)`.
macro_rules! subject {
    ($op:ty, $name:literal, none) => {
        impl $crate::ops::errors::Subject for $op {
            const OPERATION: &'static str = $name;
            fn path(&self) -> Option<&str> {
                None
            }
        }
    };
    ($op:ty, $name:literal, $field:ident) => {
        impl $crate::ops::errors::Subject for $op {
            const OPERATION: &'static str = $name;
            fn path(&self) -> Option<&str> {
                Some(&self.$field)
            }
        }
    };
}

mod errors;
mod multi;
mod node;
mod session_ops;
mod watch;

pub use errors::*;
pub use multi::{Multi, MultiOp, MultiRead, OpResult, ReadOp, ReadResult};
pub use node::{
    Create, Created, Delete, Exists, GetAcl, GetAllChildrenNumber, GetChildren, GetData,
    GetEphemerals, SetAcl, SetData,
};
pub use session_ops::{AddAuth, CloseSession, GetConfig, Reconfig, Sync, WhoAmI};
pub use watch::{AddWatch, CheckWatches, RemoveWatches};

/// One ZooKeeper call: how to build its request, and how to read its reply.
pub trait Operation {
    /// What a successful call returns.
    type Output;
    /// What a failed call returns: an [`OpError`] naming the operation and its path.
    type Error;

    /// Builds the request, validating arguments; `chroot` is prepended to paths.
    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError>;

    /// Turns the completion's result into the call's result.
    fn complete(&self, result: Result<Response, CommonError>) -> Result<Self::Output, Self::Error>;

    /// The call's error for a failure that came without a reply (refused before sending, the
    /// connection lost, the session over, the caller's timeout).
    fn fail(&self, failure: CommonError) -> Self::Error;
}

/// Turns client paths into server paths: validates them, prepends the chroot, and reuses the
/// buffers of earlier requests so the request path does not allocate.
#[derive(Debug)]
pub struct Paths<'a> {
    chroot: &'a Chroot,
    spare: Vec<String>,
}

impl<'a> Paths<'a> {
    /// Paths under `chroot`, with no buffers to reuse.
    pub fn new(chroot: &'a Chroot) -> Paths<'a> {
        Paths {
            chroot,
            spare: Vec::new(),
        }
    }

    pub(crate) fn with_spare(chroot: &'a Chroot, spare: Vec<String>) -> Paths<'a> {
        Paths { chroot, spare }
    }

    pub(crate) fn into_spare(self) -> Vec<String> {
        self.spare
    }

    /// The chroot.
    pub fn chroot(&self) -> &Chroot {
        self.chroot
    }

    /// Validates a client path (a trailing `/` is allowed when `sequential`) and returns its
    /// server path.
    pub fn server_path(&mut self, path: &str, sequential: bool) -> Result<String, CommonError> {
        validate_path(path, sequential)?;
        let mut out = self.spare.pop().unwrap_or_default();
        out.clear();
        self.chroot.write_server(path, &mut out);
        Ok(out)
    }
}

/// A request ready for the session, with what the session must do when it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub(crate) request: Request,
    pub(crate) after: AfterReply,
}

impl Prepared {
    pub(crate) fn plain(request: Request) -> Prepared {
        Prepared {
            request,
            after: AfterReply::Nothing,
        }
    }

    /// The request to be sent.
    pub fn request(&self) -> &Request {
        &self.request
    }
}

/// Session bookkeeping attached to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AfterReply {
    Nothing,
    /// Register a watch on the server path: `on_ok` when the reply succeeds, `on_no_node` when
    /// it is NONODE (exists on a missing node still sets an exist watch).
    Watch {
        path: String,
        on_ok: WatchKind,
        on_no_node: Option<WatchKind>,
        /// The request was sent without its watch flag, to share a persistent watch on the
        /// path (see `Session::share_persistent_watch`).
        shared: bool,
    },
    /// Remove local registrations on the server path after a successful removeWatches.
    RemoveWatches {
        path: String,
        watcher_type: zk_proto::WatcherType,
    },
    /// A token of the connection's SASL exchange: the reply carries the server's next one.
    Sasl,
}

/// The reply did not have the shape its opcode promises; the session decodes by opcode, so this
/// is only reachable through a misuse such as completing one operation with another's reply.
pub(crate) fn unexpected() -> CommonError {
    CommonError::Server(zk_proto::ErrorCode::MarshallingError)
}
