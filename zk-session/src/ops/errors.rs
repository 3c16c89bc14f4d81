//! One error enum per operation, listing exactly the server outcomes that operation can produce
//! (named as Java's `KeeperException` codes), plus `Common` for the failures every operation
//! shares; and the crate-wide [`Error`] every one of them converts into.

use zk_proto::ErrorCode;

use crate::error::CommonError;

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
                    #[error("{}", ErrorCode::$var.java_name())]
                    $var,
                )*
                $(
                    #[doc = $vdoc]
                    #[error("BADVERSION: expected version {expected}")]
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

            impl From<$name> for Error {
                fn from(e: $name) -> Error {
                    match e {
                        $( $name::$var => Error::$var, )*
                        $( $name::BadVersion { expected } => {
                            let _ = $vdoc;
                            Error::BadVersion { expected }
                        } )?
                        $name::Common(c) => Error::Common(c),
                    }
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

    /// Why `multi_read` failed as a whole (each read reports its own outcome).
    MultiReadError {}

    /// Why `close` failed.
    CloseError {}
}

/// Why `multi` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultiError {
    /// Op `index` failed with `code`; nothing was applied.
    #[error("multi op {index} failed with {code}; nothing was applied")]
    OpFailed {
        /// Position of the failing op.
        index: usize,
        /// Why it failed.
        code: ErrorCode,
    },
    /// The server is read-only.
    #[error("NOTREADONLY")]
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

impl From<MultiError> for Error {
    fn from(e: MultiError) -> Error {
        match e {
            MultiError::OpFailed { index, code } => Error::MultiOpFailed { index, code },
            MultiError::NotReadOnly => Error::NotReadOnly,
            MultiError::Common(c) => Error::Common(c),
        }
    }
}

/// Every failure of every operation, so `?` works across calls.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// NONODE: the node does not exist.
    #[error("NONODE")]
    NoNode,
    /// NODEEXISTS: the node already exists.
    #[error("NODEEXISTS")]
    NodeExists,
    /// NOCHILDRENFOREPHEMERALS: ephemeral nodes may not have children.
    #[error("NOCHILDRENFOREPHEMERALS")]
    NoChildrenForEphemerals,
    /// NOAUTH: not authorised.
    #[error("NOAUTH")]
    NoAuth,
    /// INVALIDACL: the ACL is invalid.
    #[error("INVALIDACL")]
    InvalidAcl,
    /// NOTREADONLY: a write reached a read-only server.
    #[error("NOTREADONLY")]
    NotReadOnly,
    /// NOTEMPTY: the node has children.
    #[error("NOTEMPTY")]
    NotEmpty,
    /// BADVERSION: the version did not match.
    #[error("BADVERSION: expected version {expected}")]
    BadVersion {
        /// The version the call expected.
        expected: i32,
    },
    /// NOWATCHER: no such watch.
    #[error("NOWATCHER")]
    NoWatcher,
    /// QUOTAEXCEEDED: a hard quota would be exceeded.
    #[error("QUOTAEXCEEDED")]
    QuotaExceeded,
    /// UNIMPLEMENTED: the server does not support the call.
    #[error("UNIMPLEMENTED")]
    Unimplemented,
    /// An op of a multi failed; nothing was applied.
    #[error("multi op {index} failed with {code}; nothing was applied")]
    MultiOpFailed {
        /// Position of the failing op.
        index: usize,
        /// Why it failed.
        code: ErrorCode,
    },
    /// A failure every operation shares.
    #[error(transparent)]
    Common(#[from] CommonError),
}
