//! A failed call's error, [`OpError`]: what went wrong (its kind), in which operation, on
//! which path. One kind enum per operation lists exactly the server outcomes that operation can
//! produce (named as Java's `KeeperException` codes), plus `Common` for the failures every
//! operation shares; every operation's error converts into the crate-wide [`Error`].

use std::fmt;

use zk_proto::ErrorCode;

use crate::error::CommonError;

/// A failed call: what went wrong ([`OpError::kind`]), in which operation and on which path.
///
/// Its `Display` names all three (`get_data /app/config: no node (NONODE)`); match on the kind:
///
/// ```
/// use zk_session::ops::{GetDataError, OpError};
///
/// fn describe(error: &OpError<GetDataError>) -> &'static str {
///     match error.kind() {
///         GetDataError::NoNode => "missing",
///         GetDataError::Common(common) if common.is_terminal() => "session over",
///         _ => "other",
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError<K> {
    kind: K,
    operation: &'static str,
    path: Option<Box<str>>,
}

impl<K> OpError<K> {
    /// The failure `kind` of `operation` on `path`.
    pub fn new(kind: K, operation: &'static str, path: Option<&str>) -> OpError<K> {
        OpError {
            kind,
            operation,
            path: path.map(Box::from),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &K {
        &self.kind
    }

    /// What went wrong, without the operation and path.
    pub fn into_kind(self) -> K {
        self.kind
    }

    /// The operation's name in the client API (`get_data`, `multi`...).
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The path the call was given (relative to the chroot), for operations on a path.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The same failure, with its kind converted.
    pub fn map_kind<L>(self, f: impl FnOnce(K) -> L) -> OpError<L> {
        OpError {
            kind: f(self.kind),
            operation: self.operation,
            path: self.path,
        }
    }
}

impl<K: Clone + Into<ErrorKind>> OpError<K> {
    /// The failure every operation shares, when it is one ([`CommonError::ConnectionLoss`],
    /// [`CommonError::SessionExpired`], ...): what a retry helper looks at.
    pub fn common(&self) -> Option<CommonError> {
        match self.kind.clone().into() {
            ErrorKind::Common(common) => Some(common),
            _ => None,
        }
    }
}

impl<K: PartialEq> PartialEq<K> for OpError<K> {
    fn eq(&self, kind: &K) -> bool {
        self.kind == *kind
    }
}

impl<K: fmt::Display> fmt::Display for OpError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{} {path}: {}", self.operation, self.kind),
            None => write!(f, "{}: {}", self.operation, self.kind),
        }
    }
}

/// The kind's message is part of this error's; its causes are this error's causes.
impl<K: std::error::Error> std::error::Error for OpError<K> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.kind.source()
    }
}

/// A server code as error messages show it: `no node (NONODE)`.
struct Code(ErrorCode);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0.description(), self.0.java_name())
    }
}

/// The operations' names and paths, for their errors.
pub(crate) trait Subject {
    /// The operation's name in the client API.
    const OPERATION: &'static str;

    /// The call's path, if the operation has one.
    fn path(&self) -> Option<&str>;

    /// The call's error of `kind`.
    fn error<K>(&self, kind: K) -> OpError<K> {
        OpError::new(kind, Self::OPERATION, self.path())
    }
}

macro_rules! op_errors {
    (
        $(
            $(#[$meta:meta])*
            $name:ident $( [bad_version: $vdoc:literal] )? { $( $(#[$vmeta:meta])* $var:ident ),* $(,)? }
        )*
    ) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
            #[non_exhaustive]
            pub enum $name {
                $(
                    $(#[$vmeta])*
                    #[error("{}", Code(ErrorCode::$var))]
                    $var,
                )*
                $(
                    #[doc = $vdoc]
                    #[error("{}: expected version {expected}", Code(ErrorCode::BadVersion))]
                    BadVersion {
                        /// The version the call expected.
                        expected: i32,
                    },
                )?
                /// A failure every operation shares.
                #[error(transparent)]
                Common(#[from] CommonError),
            }

            impl $name {
                /// Maps a failure to this operation's error, giving specific codes their own variant.
                #[allow(unused_variables)]
                pub(crate) fn from_failure(failure: CommonError, expected_version: i32) -> $name {
                    match failure {
                        $( CommonError::Server(ErrorCode::$var) => $name::$var, )*
                        $(
                            CommonError::Server(ErrorCode::BadVersion) => {
                                let _ = $vdoc;
                                $name::BadVersion { expected: expected_version }
                            }
                        )?
                        other => $name::Common(other),
                    }
                }
            }

            impl From<$name> for ErrorKind {
                fn from(e: $name) -> ErrorKind {
                    match e {
                        $( $name::$var => ErrorKind::$var, )*
                        $( $name::BadVersion { expected } => {
                            let _ = $vdoc;
                            ErrorKind::BadVersion { expected }
                        } )?
                        $name::Common(c) => ErrorKind::Common(c),
                    }
                }
            }

            impl From<OpError<$name>> for Error {
                fn from(e: OpError<$name>) -> Error {
                    e.map_kind(ErrorKind::from)
                }
            }
        )*
    };
}

op_errors! {
    /// Why `create` failed.
    CreateError {
        /// The node already exists.
        NodeExists,
        /// The parent does not exist.
        NoNode,
        /// The parent is ephemeral.
        NoChildrenForEphemerals,
        /// The parent's ACL does not allow creating children.
        NoAuth,
        /// The ACL is invalid (empty, or `auth` with no authenticated identity).
        InvalidAcl,
        /// The server is read-only.
        NotReadOnly,
        /// A hard quota would be exceeded.
        QuotaExceeded,
        /// The server does not support the mode (TTL needs `extendedTypesEnabled`).
        Unimplemented,
    }

    /// Why `delete` failed.
    DeleteError [bad_version: "The node's version is not the one the call expected."] {
        /// The node does not exist.
        NoNode,
        /// The node has children.
        NotEmpty,
        /// The parent's ACL does not allow deleting children.
        NoAuth,
        /// The server is read-only.
        NotReadOnly,
    }

    /// Why `exists` failed.
    ExistsError {
        /// The ACL does not allow reading.
        NoAuth,
    }

    /// Why `get_data` failed.
    GetDataError {
        /// The node does not exist.
        NoNode,
        /// The ACL does not allow reading.
        NoAuth,
    }

    /// Why `set_data` failed.
    SetDataError [bad_version: "The node's version is not the one the call expected."] {
        /// The node does not exist.
        NoNode,
        /// The ACL does not allow writing.
        NoAuth,
        /// The server is read-only.
        NotReadOnly,
        /// A hard quota would be exceeded.
        QuotaExceeded,
    }

    /// Why `get_children` failed.
    GetChildrenError {
        /// The node does not exist.
        NoNode,
        /// The ACL does not allow reading.
        NoAuth,
    }

    /// Why `get_acl` failed.
    GetAclError {
        /// The node does not exist.
        NoNode,
        /// The ACL allows neither reading nor administering.
        NoAuth,
    }

    /// Why `set_acl` failed.
    SetAclError [bad_version: "The node's version is not the one the call expected."] {
        /// The node does not exist.
        NoNode,
        /// The ACL does not allow administering.
        NoAuth,
        /// The new ACL is invalid.
        InvalidAcl,
        /// The server is read-only.
        NotReadOnly,
    }

    /// Why `sync` failed.
    SyncError {
        /// The node does not exist.
        NoNode,
    }

    /// Why `get_ephemerals` failed.
    GetEphemeralsError {}

    /// Why `get_all_children_number` failed.
    GetAllChildrenNumberError {
        /// The node does not exist.
        NoNode,
        /// The ACL does not allow reading.
        NoAuth,
    }

    /// Why `add_watch` failed.
    AddWatchError {
        /// The ACL does not allow reading.
        NoAuth,
    }

    /// Why `remove_watches` or `check_watches` failed.
    WatchesError {
        /// No watch of that type is registered on the path.
        NoWatcher,
    }

    /// Why `who_am_i` failed.
    WhoAmIError {}

    /// Why `add_auth` failed (an unknown scheme ends the session with `Common(AuthFailed)`).
    AddAuthError {}

    /// Why `get_config` failed.
    GetConfigError {
        /// The server has no config node (dynamic reconfiguration disabled and old server).
        NoNode,
        /// The ACL does not allow reading.
        NoAuth,
    }

    /// Why `reconfig` failed.
    ReconfigError [bad_version: "The configuration's version is not the one the call expected."] {
        /// The ensemble does not allow reconfiguration (`reconfigEnabled=false`).
        ReconfigDisabled,
        /// Another reconfiguration is under way.
        ReconfigInProgress,
        /// No quorum of the new configuration is connected to the leader.
        NewConfigNoQuorum,
        /// The server refused the server specs or ids.
        BadArguments,
        /// The ACL of the config node does not allow it (a super user, or
        /// `skipACL`, is needed).
        NoAuth,
        /// A standalone server.
        Unimplemented,
    }

    /// Why `multi_read` failed as a whole (each read reports its own outcome).
    MultiReadError {}

    /// Why `close` failed.
    CloseError {}
}

/// Why `multi` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultiError {
    /// Op `index` (`operation` on `path`) failed with `code`; nothing was applied.
    #[error("op {index} ({operation} {path}) failed: {}; nothing was applied", Code(*code))]
    OpFailed {
        /// Position of the failing op.
        index: usize,
        /// The failing op's kind: `create`, `delete`, `set_data` or `check`.
        operation: &'static str,
        /// The failing op's path, as given (relative to the chroot).
        path: String,
        /// Why it failed.
        code: ErrorCode,
    },
    /// The server is read-only.
    #[error("{}", Code(ErrorCode::NotReadOnly))]
    NotReadOnly,
    /// A failure every operation shares.
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl MultiError {
    pub(crate) fn from_failure(failure: CommonError) -> MultiError {
        match failure {
            CommonError::Server(ErrorCode::NotReadOnly) => MultiError::NotReadOnly,
            other => MultiError::Common(other),
        }
    }
}

impl From<MultiError> for ErrorKind {
    fn from(e: MultiError) -> ErrorKind {
        match e {
            MultiError::OpFailed {
                index,
                operation,
                path,
                code,
            } => ErrorKind::MultiOpFailed {
                index,
                operation,
                path,
                code,
            },
            MultiError::NotReadOnly => ErrorKind::NotReadOnly,
            MultiError::Common(c) => ErrorKind::Common(c),
        }
    }
}

impl From<OpError<MultiError>> for Error {
    fn from(e: OpError<MultiError>) -> Error {
        e.map_kind(ErrorKind::from)
    }
}

/// Any operation's failure, with its operation and path, so `?` works across calls.
pub type Error = OpError<ErrorKind>;

/// Every failure kind of every operation: the kind of the crate-wide [`Error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// NONODE: the node does not exist.
    #[error("{}", Code(ErrorCode::NoNode))]
    NoNode,
    /// NODEEXISTS: the node already exists.
    #[error("{}", Code(ErrorCode::NodeExists))]
    NodeExists,
    /// NOCHILDRENFOREPHEMERALS: ephemeral nodes may not have children.
    #[error("{}", Code(ErrorCode::NoChildrenForEphemerals))]
    NoChildrenForEphemerals,
    /// NOAUTH: not authorised.
    #[error("{}", Code(ErrorCode::NoAuth))]
    NoAuth,
    /// INVALIDACL: the ACL is invalid.
    #[error("{}", Code(ErrorCode::InvalidAcl))]
    InvalidAcl,
    /// NOTREADONLY: a write reached a read-only server.
    #[error("{}", Code(ErrorCode::NotReadOnly))]
    NotReadOnly,
    /// NOTEMPTY: the node has children.
    #[error("{}", Code(ErrorCode::NotEmpty))]
    NotEmpty,
    /// BADVERSION: the version did not match.
    #[error("{}: expected version {expected}", Code(ErrorCode::BadVersion))]
    BadVersion {
        /// The version the call expected.
        expected: i32,
    },
    /// NOWATCHER: no such watch.
    #[error("{}", Code(ErrorCode::NoWatcher))]
    NoWatcher,
    /// QUOTAEXCEEDED: a hard quota would be exceeded.
    #[error("{}", Code(ErrorCode::QuotaExceeded))]
    QuotaExceeded,
    /// UNIMPLEMENTED: the server does not support the call.
    #[error("{}", Code(ErrorCode::Unimplemented))]
    Unimplemented,
    /// BADARGUMENTS: the server refused the call's arguments (a malformed server spec).
    #[error("{}", Code(ErrorCode::BadArguments))]
    BadArguments,
    /// NEWCONFIGNOQUORUM: no quorum of the new configuration is connected to the leader.
    #[error("{}", Code(ErrorCode::NewConfigNoQuorum))]
    NewConfigNoQuorum,
    /// RECONFIGINPROGRESS: another reconfiguration is under way.
    #[error("{}", Code(ErrorCode::ReconfigInProgress))]
    ReconfigInProgress,
    /// RECONFIGDISABLED: the ensemble does not allow reconfiguration (`reconfigEnabled`).
    #[error("{}", Code(ErrorCode::ReconfigDisabled))]
    ReconfigDisabled,
    /// An op of a multi failed; nothing was applied.
    #[error("op {index} ({operation} {path}) failed: {}; nothing was applied", Code(*code))]
    MultiOpFailed {
        /// Position of the failing op.
        index: usize,
        /// The failing op's kind: `create`, `delete`, `set_data` or `check`.
        operation: &'static str,
        /// The failing op's path, as given (relative to the chroot).
        path: String,
        /// Why it failed.
        code: ErrorCode,
    },
    /// A failure every operation shares.
    #[error(transparent)]
    Common(#[from] CommonError),
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::ops::{Exists, GetData, Operation, WhoAmI};

    #[test]
    fn an_error_names_its_operation_and_path() {
        let get = GetData::new("/a/b");
        let error = get.complete(Err(CommonError::Server(ErrorCode::NoNode)));
        let error = error.expect_err("NONODE");
        assert_eq!(error, GetDataError::NoNode);
        assert_eq!(
            (error.operation(), error.path()),
            ("get_data", Some("/a/b"))
        );
        assert_eq!(error.to_string(), "get_data /a/b: no node (NONODE)");

        let lost = Exists::new("/x").fail(CommonError::ConnectionLoss);
        assert_eq!(
            lost.to_string(),
            "exists /x: connection lost: the request may or may not have been applied"
        );
        let expired = WhoAmI.fail(CommonError::SessionExpired);
        assert_eq!(expired.to_string(), "who_am_i: session expired");
    }

    #[test]
    fn the_crate_wide_error_keeps_the_subject_and_the_causes() {
        let decode = zk_proto::DecodeError::UnknownValue {
            what: "test",
            value: 7,
        };
        let failed = GetData::new("/c").fail(CommonError::MalformedReply(decode.clone()));
        let error: Error = failed.into();
        assert_eq!(
            error.kind(),
            &ErrorKind::Common(CommonError::MalformedReply(decode.clone()))
        );
        assert!(error
            .to_string()
            .starts_with("get_data /c: malformed reply: "));
        let source = error.source().expect("the decode error is the cause");
        assert_eq!(source.to_string(), decode.to_string());
    }
}
