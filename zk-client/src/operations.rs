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
///
/// `for_each_operation!(callback, async_examples)` (or `blocking_examples`) appends the main
/// operations' examples, written for the async handle or for zk-blocking, to their docs; they
/// run as doctests against a real server (`zk_tests::doc`).
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_operation {
    ($callback:ident) => {
        $crate::for_each_operation!($callback, no_examples);
    };
    ($callback:ident, $examples:ident) => {
        $crate::__each_operation! { $callback $examples
            /// Creates a node with an open ACL; returns its path (with any sequence suffix) and
            /// stat.
            example {
                async: r#"
# Example

```
# zk_tests::doc::on_tokio(|client| async move {
use zk_tokio::CreateMode;

let created = client.create("/app", &b"config"[..], CreateMode::Persistent).await?;
assert_eq!(created.path, "/app");
let job = client.create("/app/job-", &b""[..], CreateMode::PersistentSequential).await?;
assert_eq!(job.path, "/app/job-0000000000");
# Ok(()) });
```"#,
                blocking: r#"
# Example

```
# zk_tests::doc::on_blocking(|client| {
use zk_blocking::CreateMode;

let created = client.create("/app", &b"config"[..], CreateMode::Persistent)?;
assert_eq!(created.path, "/app");
let job = client.create("/app/job-", &b""[..], CreateMode::PersistentSequential)?;
assert_eq!(job.path, "/app/job-0000000000");
# Ok(()) });
```"#,
            }
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
            example {
                async: r#"
# Example

```
# zk_tests::doc::on_tokio(|client| async move {
use zk_tokio::{ops::DeleteError, CreateMode};

let created = client.create("/lock", &b""[..], CreateMode::Persistent).await?;
// Only at the version read: a concurrent change makes it fail with BadVersion.
client.delete("/lock", Some(created.stat.version)).await?;
let again = client.delete("/lock", None).await.unwrap_err();
assert_eq!(again, DeleteError::NoNode);
assert_eq!(again.to_string(), "delete /lock: no node (NONODE)");
# Ok(()) });
```"#,
                blocking: r#"
# Example

```
# zk_tests::doc::on_blocking(|client| {
use zk_blocking::{ops::DeleteError, CreateMode};

let created = client.create("/lock", &b""[..], CreateMode::Persistent)?;
// Only at the version read: a concurrent change makes it fail with BadVersion.
client.delete("/lock", Some(created.stat.version))?;
let again = client.delete("/lock", None).unwrap_err();
assert_eq!(again, DeleteError::NoNode);
assert_eq!(again.to_string(), "delete /lock: no node (NONODE)");
# Ok(()) });
```"#,
            }
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
            example {
                async: r#"
# Example

```
# zk_tests::doc::on_tokio(|client| async move {
use zk_tokio::CreateMode;

assert!(client.exists("/feature-flag").await?.is_none());
client.create("/feature-flag", &b"on"[..], CreateMode::Persistent).await?;
let stat = client.exists("/feature-flag").await?.expect("created");
assert_eq!(stat.data_length, 2);
# Ok(()) });
```"#,
                blocking: r#"
# Example

```
# zk_tests::doc::on_blocking(|client| {
use zk_blocking::CreateMode;

assert!(client.exists("/feature-flag")?.is_none());
client.create("/feature-flag", &b"on"[..], CreateMode::Persistent)?;
let stat = client.exists("/feature-flag")?.expect("created");
assert_eq!(stat.data_length, 2);
# Ok(()) });
```"#,
            }
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
            example {
                async: r#"
# Example

```
# zk_tests::doc::on_tokio(|client| async move {
use zk_tokio::{ops::GetDataError, CreateMode};

client.create("/config", &b"v1"[..], CreateMode::Persistent).await?;
let (data, stat) = client.get_data("/config").await?;
assert_eq!((&data[..], stat.version), (&b"v1"[..], 0));

match client.get_data("/missing").await {
    Err(e) if *e.kind() == GetDataError::NoNode => println!("{e}"), // get_data /missing: no node (NONODE)
    other => panic!("{other:?}"),
}
# Ok(()) });
```"#,
                blocking: r#"
# Example

```
# zk_tests::doc::on_blocking(|client| {
use zk_blocking::{ops::GetDataError, CreateMode};

client.create("/config", &b"v1"[..], CreateMode::Persistent)?;
let (data, stat) = client.get_data("/config")?;
assert_eq!((&data[..], stat.version), (&b"v1"[..], 0));

match client.get_data("/missing") {
    Err(e) if *e.kind() == GetDataError::NoNode => println!("{e}"), // get_data /missing: no node (NONODE)
    other => panic!("{other:?}"),
}
# Ok(()) });
```"#,
            }
            fn get_data(
                path: &str
            ) -> Result<($crate::__private::Bytes, $crate::proto::Stat), $crate::ops::OpError<$crate::ops::GetDataError>> {
                call $crate::ops::GetData = $crate::ops::GetData::new(path)
            }

            /// A node's data and stat, and a watch for its next change or deletion.
            example {
                async: r#"
# Example

```
# zk_tests::doc::on_tokio(|client| async move {
use zk_tokio::{CreateMode, WatchEvent};
use zk_tokio::proto::EventType;

client.create("/config", &b"v1"[..], CreateMode::Persistent).await?;
let ((data, _), watch) = client.get_data_and_watch("/config").await?;
assert_eq!(&data[..], b"v1");
client.set_data("/config", &b"v2"[..], None).await?;
// The watch fires once, for the next change.
let WatchEvent::Node { event_type, path } = watch.await else { panic!("session ended") };
assert_eq!((event_type, path.as_str()), (EventType::NodeDataChanged, "/config"));
# Ok(()) });
```"#,
                blocking: r#"
# Example

```
# zk_tests::doc::on_blocking(|client| {
use zk_blocking::{CreateMode, WatchEvent};
use zk_blocking::proto::EventType;

client.create("/config", &b"v1"[..], CreateMode::Persistent)?;
let ((data, _), watch) = client.get_data_and_watch("/config")?;
assert_eq!(&data[..], b"v1");
client.set_data("/config", &b"v2"[..], None)?;
// The watch fires once, for the next change.
let Some(WatchEvent::Node { event_type, path }) = watch.wait(None) else { panic!("session ended") };
assert_eq!((event_type, path.as_str()), (EventType::NodeDataChanged, "/config"));
# Ok(()) });
```"#,
            }
            fn get_data_and_watch(
                path: &str
            ) -> Result<
                (($crate::__private::Bytes, $crate::proto::Stat), $crate::Watch),
                $crate::ops::OpError<$crate::ops::GetDataError>,
            > {
                watch $crate::ops::GetData = $crate::ops::GetData::new(path).watch()
            }

            /// Replaces a node's data, only at `version` when given; returns the new stat.
            example {
                async: r#"
# Example

```
# zk_tests::doc::on_tokio(|client| async move {
use zk_tokio::{ops::SetDataError, CreateMode};

client.create("/counter", &b"0"[..], CreateMode::Persistent).await?;
let (_, stat) = client.get_data("/counter").await?;
// Compare-and-set: only if nobody wrote since the read.
let stat = client.set_data("/counter", &b"1"[..], Some(stat.version)).await?;
assert_eq!(stat.version, 1);
let stale = client.set_data("/counter", &b"2"[..], Some(0)).await.unwrap_err();
assert_eq!(stale, SetDataError::BadVersion { expected: 0 });
# Ok(()) });
```"#,
                blocking: r#"
# Example

```
# zk_tests::doc::on_blocking(|client| {
use zk_blocking::{ops::SetDataError, CreateMode};

client.create("/counter", &b"0"[..], CreateMode::Persistent)?;
let (_, stat) = client.get_data("/counter")?;
// Compare-and-set: only if nobody wrote since the read.
let stat = client.set_data("/counter", &b"1"[..], Some(stat.version))?;
assert_eq!(stat.version, 1);
let stale = client.set_data("/counter", &b"2"[..], Some(0)).unwrap_err();
assert_eq!(stale, SetDataError::BadVersion { expected: 0 });
# Ok(()) });
```"#,
            }
            fn set_data(
                path: &str,
                data: impl Into<$crate::__private::Bytes>,
                version: Option<i32>
            ) -> Result<$crate::proto::Stat, $crate::ops::OpError<$crate::ops::SetDataError>> {
                call $crate::ops::SetData = $crate::ops::SetData {
                    path: path.to_owned(),
                    data: data.into(),
                    null_data: false,
                    version,
                }
            }

            /// A node's children (names) and stat.
            example {
                async: r#"
# Example

```
# zk_tests::doc::on_tokio(|client| async move {
use zk_tokio::CreateMode;

client.create("/services", &b""[..], CreateMode::Persistent).await?;
client.create("/services/a", &b""[..], CreateMode::Ephemeral).await?;
client.create("/services/b", &b""[..], CreateMode::Ephemeral).await?;
let (mut names, stat) = client.get_children("/services").await?;
names.sort();
assert_eq!(names, ["a", "b"]);
assert_eq!(stat.num_children, 2);
# Ok(()) });
```"#,
                blocking: r#"
# Example

```
# zk_tests::doc::on_blocking(|client| {
use zk_blocking::CreateMode;

client.create("/services", &b""[..], CreateMode::Persistent)?;
client.create("/services/a", &b""[..], CreateMode::Ephemeral)?;
client.create("/services/b", &b""[..], CreateMode::Ephemeral)?;
let (mut names, stat) = client.get_children("/services")?;
names.sort();
assert_eq!(names, ["a", "b"]);
assert_eq!(stat.num_children, 2);
# Ok(()) });
```"#,
            }
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
            example {
                async: r#"
# Example

```
# zk_tests::doc::on_tokio(|client| async move {
use zk_tokio::ops::{Create, MultiError, Multi, SetData};

client.create_with(Create::new("/accounts", &b""[..])).await?;
let transfer = Multi::new()
    .create(Create::new("/accounts/a", &b"90"[..]))
    .create(Create::new("/accounts/b", &b"10"[..]));
client.multi(transfer).await?;

// All or nothing: the second op fails, so the first is not applied either.
let failed = Multi::new()
    .set_data(SetData::new("/accounts/a", &b"0"[..]))
    .set_data(SetData::new("/accounts/c", &b"100"[..]));
let error = client.multi(failed).await.unwrap_err();
assert!(matches!(error.kind(), MultiError::OpFailed { index: 1, .. }));
assert_eq!(&client.get_data("/accounts/a").await?.0[..], b"90");
# Ok(()) });
```"#,
                blocking: r#"
# Example

```
# zk_tests::doc::on_blocking(|client| {
use zk_blocking::ops::{Create, MultiError, Multi, SetData};

client.create_with(Create::new("/accounts", &b""[..]))?;
let transfer = Multi::new()
    .create(Create::new("/accounts/a", &b"90"[..]))
    .create(Create::new("/accounts/b", &b"10"[..]));
client.multi(transfer)?;

// All or nothing: the second op fails, so the first is not applied either.
let failed = Multi::new()
    .set_data(SetData::new("/accounts/a", &b"0"[..]))
    .set_data(SetData::new("/accounts/c", &b"100"[..]));
let error = client.multi(failed).unwrap_err();
assert!(matches!(error.kind(), MultiError::OpFailed { index: 1, .. }));
assert_eq!(&client.get_data("/accounts/a")?.0[..], b"90");
# Ok(()) });
```"#,
            }
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
            example {
                async: r#"
# Example

```
# zk_tests::doc::on_tokio(|client| async move {
use zk_tokio::{AddWatchMode, CreateMode, WatchEvent};

// Every change under /jobs, for as long as the stream is kept (and across reconnects).
let mut events = client.add_watch("/jobs", AddWatchMode::PersistentRecursive).await?;
client.create("/jobs", &b""[..], CreateMode::Persistent).await?;
client.create("/jobs/1", &b""[..], CreateMode::Persistent).await?;
for expected in ["/jobs", "/jobs/1"] {
    match events.next().await {
        Some(WatchEvent::Node { path, .. }) => assert_eq!(path, expected),
        other => panic!("{other:?}"),
    }
}
# Ok(()) });
```"#,
                blocking: r#"
# Example

```
# zk_tests::doc::on_blocking(|client| {
use zk_blocking::{AddWatchMode, CreateMode, WatchEvent};

// Every change under /jobs, for as long as the stream is kept (and across reconnects).
let mut events = client.add_watch("/jobs", AddWatchMode::PersistentRecursive)?;
client.create("/jobs", &b""[..], CreateMode::Persistent)?;
client.create("/jobs/1", &b""[..], CreateMode::Persistent)?;
for expected in ["/jobs", "/jobs/1"] {
    match events.recv() {
        Some(WatchEvent::Node { path, .. }) => assert_eq!(path, expected),
        other => panic!("{other:?}"),
    }
}
# Ok(()) });
```"#,
            }
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

            /// The ensemble's configuration, and a one-shot watch that fires when it changes.
            fn get_config_and_watch() -> Result<
                (($crate::__private::Bytes, $crate::proto::Stat), $crate::Watch),
                $crate::ops::OpError<$crate::ops::GetConfigError>,
            > {
                watch $crate::ops::GetConfig = $crate::ops::GetConfig::new().watch()
            }

            /// Changes the ensemble's membership ([`ops::Reconfig`](crate::ops::Reconfig):
            /// incremental or a whole new member list, optionally from a configuration
            /// version): the new configuration and the config node's stat.
            fn reconfig(
                change: $crate::ops::Reconfig
            ) -> Result<($crate::__private::Bytes, $crate::proto::Stat), $crate::ops::OpError<$crate::ops::ReconfigError>> {
                call $crate::ops::Reconfig = change
            }
        }
    };
}

/// Splits the list of [`for_each_operation`] into one `$callback!` call per operation.
#[doc(hidden)]
#[macro_export]
macro_rules! __each_operation {
    ($callback:ident $examples:ident $(
        $(#[doc = $doc:literal])*
        $(example { async: $async_example:literal, blocking: $blocking_example:literal $(,)? })?
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> Result<$out:ty, $err:ty $(,)?> {
            $kind:ident $op:ty = $make:expr
        }
    )*) => {
        $( $callback! {
            $kind
            [
                $(#[doc = $doc])*
                $(#[doc = $crate::__example!($examples, $async_example, $blocking_example)])?
            ]
            $name [$($arg: $ty),*] $out, $err, $op, $make
        } )*
    };
}

/// The example of [`for_each_operation`]'s `$examples` flavour: `async_examples` (the async
/// handle's, run on tokio), `blocking_examples` (zk-blocking's) or `no_examples`.
#[doc(hidden)]
#[macro_export]
macro_rules! __example {
    (async_examples, $async_example:literal, $blocking_example:literal) => {
        $async_example
    };
    (blocking_examples, $async_example:literal, $blocking_example:literal) => {
        $blocking_example
    };
    (no_examples, $async_example:literal, $blocking_example:literal) => {
        ""
    };
}
