//! The client API's operations, defined once: each with its name, arguments, typed result,
//! documentation and the [`Operation`](crate::ops::Operation) it submits. The async handle
//! ([`Client`](crate::Client)), zk-blocking's client and the conformance suite's interface are
//! all generated from this list, so their names, arguments, results, errors and docs cannot
//! drift apart.

/// Calls `$callback!` once per operation of the client API, with
///
/// ```text
/// kind [#[doc = "..."]...] name [arg: Type, ...] Output, Error, OpType, op_expression
/// ```
///
/// where the method is `fn name(arg: Type, ...) -> Result<Output, Error>` and `kind` says how
/// the async handle submits `op_expression`: `call` (a plain call, returning
/// [`Pending`](crate::Pending)), `watch` (a call that sets a one-shot watch, returning it beside
/// the result) or `stream` (a persistent watch, returning its stream). Types are spelled with
/// `$crate` paths, so the list expands the same in every crate.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_operation {
    ($callback:ident) => {
        $crate::__each_operation! { $callback
            /// Creates a node with an open ACL; returns its path (with any sequence suffix) and
            /// stat.
            fn create(
                path: &str,
                data: impl Into<$crate::__private::Bytes>,
                mode: $crate::proto::CreateMode
            ) -> Result<$crate::ops::Created, $crate::ops::OpError<$crate::ops::CreateError>> {
                call $crate::ops::Create = $crate::ops::Create::new(path, data).mode(mode)
            }

            /// Creates a node with every option (ACL, TTL): see `ops::Create`.
            fn create_with(
                create: $crate::ops::Create
            ) -> Result<$crate::ops::Created, $crate::ops::OpError<$crate::ops::CreateError>> {
                call $crate::ops::Create = create
            }

            /// Deletes a node, only at `version` when given.
            fn delete(
                path: &str,
                version: Option<i32>
            ) -> Result<(), $crate::ops::OpError<$crate::ops::DeleteError>> {
                call $crate::ops::Delete = $crate::ops::Delete {
                    path: path.to_owned(),
                    version,
                }
            }

            /// A node's stat, or `None` when it does not exist.
            fn exists(
                path: &str
            ) -> Result<Option<$crate::proto::Stat>, $crate::ops::OpError<$crate::ops::ExistsError>> {
                call $crate::ops::Exists = $crate::ops::Exists::new(path)
            }

            /// A node's stat (or `None`) and a watch for its creation, change or deletion.
            fn exists_and_watch(
                path: &str
            ) -> Result<(Option<$crate::proto::Stat>, $crate::Watch), $crate::ops::OpError<$crate::ops::ExistsError>> {
                watch $crate::ops::Exists = $crate::ops::Exists::new(path).watch()
            }

            /// A node's data and stat.
            fn get_data(
                path: &str
            ) -> Result<($crate::__private::Bytes, $crate::proto::Stat), $crate::ops::OpError<$crate::ops::GetDataError>> {
                call $crate::ops::GetData = $crate::ops::GetData::new(path)
            }

            /// A node's data and stat, and a watch for its next change or deletion.
            fn get_data_and_watch(
                path: &str
            ) -> Result<
                (($crate::__private::Bytes, $crate::proto::Stat), $crate::Watch),
                $crate::ops::OpError<$crate::ops::GetDataError>,
            > {
                watch $crate::ops::GetData = $crate::ops::GetData::new(path).watch()
            }

            /// Replaces a node's data, only at `version` when given; returns the new stat.
            fn set_data(
                path: &str,
                data: impl Into<$crate::__private::Bytes>,
                version: Option<i32>
            ) -> Result<$crate::proto::Stat, $crate::ops::OpError<$crate::ops::SetDataError>> {
                call $crate::ops::SetData = $crate::ops::SetData {
                    path: path.to_owned(),
                    data: data.into(),
                    version,
                }
            }

            /// A node's children (names) and stat.
            fn get_children(
                path: &str
            ) -> Result<(Vec<String>, $crate::proto::Stat), $crate::ops::OpError<$crate::ops::GetChildrenError>> {
                call $crate::ops::GetChildren = $crate::ops::GetChildren::new(path)
            }

            /// A node's children and stat, and a watch for the next change of its children.
            fn get_children_and_watch(
                path: &str
            ) -> Result<
                ((Vec<String>, $crate::proto::Stat), $crate::Watch),
                $crate::ops::OpError<$crate::ops::GetChildrenError>,
            > {
                watch $crate::ops::GetChildren = $crate::ops::GetChildren::new(path).watch()
            }

            /// A node's ACL and stat.
            fn get_acl(
                path: &str
            ) -> Result<(Vec<$crate::proto::Acl>, $crate::proto::Stat), $crate::ops::OpError<$crate::ops::GetAclError>> {
                call $crate::ops::GetAcl = $crate::ops::GetAcl::new(path)
            }

            /// Replaces a node's ACL, only at ACL version `version` when given.
            fn set_acl(
                path: &str,
                acl: impl Into<$crate::proto::AclList>,
                version: Option<i32>
            ) -> Result<$crate::proto::Stat, $crate::ops::OpError<$crate::ops::SetAclError>> {
                call $crate::ops::SetAcl = $crate::ops::SetAcl {
                    path: path.to_owned(),
                    acl: acl.into(),
                    version,
                }
            }

            /// Makes the connected server catch up with the leader.
            fn sync(path: &str) -> Result<String, $crate::ops::OpError<$crate::ops::SyncError>> {
                call $crate::ops::Sync = $crate::ops::Sync::new(path)
            }

            /// Applies several writes atomically: all or none.
            fn multi(
                multi: $crate::ops::Multi
            ) -> Result<Vec<$crate::ops::OpResult>, $crate::ops::OpError<$crate::ops::MultiError>> {
                call $crate::ops::Multi = multi
            }

            /// Runs several reads in one round trip, each with its own outcome.
            fn multi_read(
                reads: $crate::ops::MultiRead
            ) -> Result<
                Vec<Result<$crate::ops::ReadResult, $crate::proto::ErrorCode>>,
                $crate::ops::OpError<$crate::ops::MultiReadError>,
            > {
                call $crate::ops::MultiRead = reads
            }

            /// The session's ephemeral nodes under `prefix`.
            fn get_ephemerals(
                prefix: &str
            ) -> Result<Vec<String>, $crate::ops::OpError<$crate::ops::GetEphemeralsError>> {
                call $crate::ops::GetEphemerals = $crate::ops::GetEphemerals::new(prefix)
            }

            /// The number of descendants of a node.
            fn get_all_children_number(
                path: &str
            ) -> Result<u32, $crate::ops::OpError<$crate::ops::GetAllChildrenNumberError>> {
                call $crate::ops::GetAllChildrenNumber =
                    $crate::ops::GetAllChildrenNumber::new(path)
            }

            /// Adds a persistent or persistent-recursive watch; its events arrive on the stream.
            fn add_watch(
                path: &str,
                mode: $crate::proto::AddWatchMode
            ) -> Result<$crate::WatchStream, $crate::ops::OpError<$crate::ops::AddWatchError>> {
                stream $crate::ops::AddWatch = $crate::ops::AddWatch::new(path, mode)
            }

            /// Removes this session's watches of `watcher_type` on `path`.
            fn remove_watches(
                path: &str,
                watcher_type: $crate::proto::WatcherType
            ) -> Result<(), $crate::ops::OpError<$crate::ops::WatchesError>> {
                call $crate::ops::RemoveWatches =
                    $crate::ops::RemoveWatches::new(path, watcher_type)
            }

            /// Whether the server holds watches of `watcher_type` on `path` for this session
            /// (`Err(NoWatcher)` when not).
            fn check_watches(
                path: &str,
                watcher_type: $crate::proto::WatcherType
            ) -> Result<(), $crate::ops::OpError<$crate::ops::WatchesError>> {
                call $crate::ops::CheckWatches = $crate::ops::CheckWatches::new(path, watcher_type)
            }

            /// The identities the server attributes to this session.
            fn who_am_i() -> Result<Vec<$crate::proto::ClientInfo>, $crate::ops::OpError<$crate::ops::WhoAmIError>> {
                call $crate::ops::WhoAmI = $crate::ops::WhoAmI
            }

            /// Adds a credential, presented now and on every later connection.
            fn add_auth(
                scheme: &str,
                auth: impl Into<$crate::__private::Bytes>
            ) -> Result<(), $crate::ops::OpError<$crate::ops::AddAuthError>> {
                call $crate::ops::AddAuth = $crate::ops::AddAuth::new(scheme, auth)
            }

            /// The ensemble's configuration.
            fn get_config() -> Result<($crate::__private::Bytes, $crate::proto::Stat), $crate::ops::OpError<$crate::ops::GetConfigError>> {
                call $crate::ops::GetConfig = $crate::ops::GetConfig::new()
            }
        }
    };
}

/// Splits the list of [`for_each_operation`] into one `$callback!` call per operation.
#[doc(hidden)]
#[macro_export]
macro_rules! __each_operation {
    ($callback:ident $(
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> Result<$out:ty, $err:ty $(,)?> {
            $kind:ident $op:ty = $make:expr
        }
    )*) => {
        $( $callback! { $kind [$(#[$doc])*] $name [$($arg: $ty),*] $out, $err, $op, $make } )*
    };
}
