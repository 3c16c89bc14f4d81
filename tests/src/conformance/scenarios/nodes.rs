//! Every node operation, with each of its error outcomes.

use std::time::Duration;

use zk_client::ops::{
    self, CreateError, DeleteError, GetAclError, GetAllChildrenNumberError, GetChildrenError,
    GetDataError, OpError, SetAclError, SetDataError, WatchesError,
};
use zk_client::proto::{Acl, CreateMode, EventType, Id, Perms, SessionId, WatcherType};
use zk_client::CommonError;

use super::{create_node, sequence_of, sorted, Want};
use crate::conformance::{node_event, now_or_never, Adapter, Api, Env, SLOW_WAIT};

/// `create` in persistent mode returns the path and the new node's stat, and the node holds
/// the data (given as a static slice or as an owned vector).
pub async fn create_persistent_returns_path_and_stat<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("node");
    let created = zk
        .create(&path, &b"hello"[..], CreateMode::Persistent)
        .await
        .want("create");
    assert_eq!(created.path, path, "create returns the node's path");
    assert_eq!(created.stat.version, 0);
    assert_eq!(created.stat.data_length, 5);
    assert_eq!(created.stat.num_children, 0);
    assert_eq!(created.stat.ephemeral_owner, SessionId::NONE);
    assert_eq!(created.stat.czxid, created.stat.mzxid);
    let (data, stat) = zk.get_data(&path).await.want("get_data");
    assert_eq!(&data[..], b"hello");
    assert_eq!(
        stat, created.stat,
        "get_data's stat is the one create returned"
    );

    let owned = env.path("owned");
    let created = zk
        .create(&owned, vec![1u8, 2, 3], CreateMode::Persistent)
        .await
        .want("create with owned data");
    assert_eq!(created.stat.data_length, 3);
    let (data, _) = zk.get_data(&owned).await.want("get_data");
    assert_eq!(&data[..], &[1, 2, 3]);

    let (children, parent) = zk.get_children(env.root()).await.want("get_children");
    assert_eq!(sorted(children), ["node", "owned"]);
    assert_eq!(parent.num_children, 2);
}

/// Sequential modes append the parent's counter as `%010d`, shared by every child of the
/// parent (sequential or not), for persistent and ephemeral nodes alike.
pub async fn create_sequential_names_carry_a_ten_digit_counter<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let parent = env.path("seq");
    create_node(&zk, &parent, b"").await;
    let prefix = format!("{parent}/n-");

    let first = zk
        .create(&prefix, &b""[..], CreateMode::PersistentSequential)
        .await
        .want("first sequential create");
    assert_eq!(first.path, format!("{parent}/n-0000000000"));
    let second = zk
        .create(&prefix, &b""[..], CreateMode::PersistentSequential)
        .await
        .want("second sequential create");
    assert_eq!(second.path, format!("{parent}/n-0000000001"));
    let ephemeral = zk
        .create(
            &format!("{parent}/e-"),
            &b""[..],
            CreateMode::EphemeralSequential,
        )
        .await
        .want("ephemeral sequential create");
    assert_eq!(ephemeral.path, format!("{parent}/e-0000000002"));
    assert_eq!(ephemeral.stat.ephemeral_owner, zk.session_id());
    // A plain child advances the parent's counter too.
    create_node(&zk, &format!("{parent}/plain"), b"").await;
    let fourth = zk
        .create(&prefix, &b""[..], CreateMode::PersistentSequential)
        .await
        .want("sequential create after a plain child");
    assert_eq!(fourth.path, format!("{parent}/n-0000000004"));
    assert_eq!(sequence_of(&fourth.path), 4);

    let (children, _) = zk.get_children(&parent).await.want("get_children");
    assert_eq!(
        sorted(children),
        [
            "e-0000000002",
            "n-0000000000",
            "n-0000000001",
            "n-0000000004",
            "plain"
        ]
    );
}

/// An ephemeral node belongs to the session that created it, as every client sees.
pub async fn create_ephemeral_is_owned_by_the_session<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let other = env.client::<A>().await;
    assert_ne!(zk.session_id(), other.session_id());
    let path = env.path("ephemeral");
    let created = zk
        .create(&path, &b"e"[..], CreateMode::Ephemeral)
        .await
        .want("create ephemeral");
    assert_eq!(created.path, path);
    assert_eq!(created.stat.ephemeral_owner, zk.session_id());
    let seen = other.exists(&path).await.want("exists").expect("visible");
    assert_eq!(seen.ephemeral_owner, zk.session_id());
}

/// A container (created with the container opcode, not plain create) is reaped by the server
/// once its last child is deleted, while a persistent node in the same situation stays.
pub async fn create_container_is_reaped_after_its_last_child_is_deleted<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let plain = env.path("plain");
    let container = env.path("container");
    create_node(&zk, &plain, b"").await;
    create_node(&zk, &format!("{plain}/child"), b"").await;
    let created = zk
        .create(&container, &b""[..], CreateMode::Container)
        .await
        .want("create container");
    assert_eq!(created.path, container);
    create_node(&zk, &format!("{container}/child"), b"").await;

    zk.delete(&format!("{plain}/child"), None)
        .await
        .want("delete plain's child");
    let (stat, mut watch) = zk.exists_and_watch(&container).await.want("exists");
    assert!(stat.is_some(), "the container exists while it has a child");
    zk.delete(&format!("{container}/child"), None)
        .await
        .want("delete container's child");

    let event = A::wait_watch(&mut watch, SLOW_WAIT).await;
    assert_eq!(
        event,
        Some(node_event(EventType::NodeDeleted, &container)),
        "the server reaps the emptied container (check interval 500 ms)"
    );
    assert_eq!(zk.exists(&container).await.want("exists"), None);
    assert!(
        zk.exists(&plain).await.want("exists").is_some(),
        "an emptied persistent node is not reaped"
    );
}

/// TTL nodes (persistent and sequential) are reaped by the server after their TTL; a node
/// without TTL created alongside stays.
pub async fn create_ttl_node_is_reaped_after_its_ttl<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let ttl = Duration::from_millis(500);
    let keeper = env.path("keeper");
    create_node(&zk, &keeper, b"").await;
    let node = env.path("ttl");
    let created = zk
        .create_with(
            ops::Create::new(node.clone(), &b"t"[..])
                .mode(CreateMode::PersistentWithTtl)
                .ttl(ttl),
        )
        .await
        .want("create with TTL");
    assert_eq!(created.path, node);
    let sequential = zk
        .create_with(
            ops::Create::new(env.path("ttlseq-"), &b""[..])
                .mode(CreateMode::PersistentSequentialWithTtl)
                .ttl(ttl),
        )
        .await
        .want("create sequential with TTL");
    assert_eq!(
        sequential.path,
        format!("{}0000000002", env.path("ttlseq-"))
    );

    for path in [&node, &sequential.path] {
        let (stat, mut watch) = zk.exists_and_watch(path).await.want("exists");
        if stat.is_some() {
            let event = A::wait_watch(&mut watch, SLOW_WAIT).await;
            assert_eq!(
                event,
                Some(node_event(EventType::NodeDeleted, path)),
                "the server reaps a TTL node after its TTL"
            );
        }
        assert_eq!(zk.exists(path).await.want("exists"), None);
    }
    assert!(zk.exists(&keeper).await.want("exists").is_some());
}

/// `create` fails with NodeExists on an existing path and NoNode under a missing parent
/// (sequential or not), and changes nothing.
pub async fn create_fails_with_node_exists_or_missing_parent<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("taken");
    create_node(&zk, &path, b"first").await;
    let err = zk
        .create(&path, &b"second"[..], CreateMode::Persistent)
        .await
        .want_err("creating an existing node");
    assert_eq!(err, CreateError::NodeExists);
    let err = zk
        .create(&path, &b"second"[..], CreateMode::Ephemeral)
        .await
        .want_err("creating an existing node as ephemeral");
    assert_eq!(err, CreateError::NodeExists);
    let (data, stat) = zk.get_data(&path).await.want("get_data");
    assert_eq!((&data[..], stat.version), (&b"first"[..], 0));

    let orphan = env.path("missing/child");
    let err = zk
        .create(&orphan, &b""[..], CreateMode::Persistent)
        .await
        .want_err("creating under a missing parent");
    assert_eq!(err, CreateError::NoNode);
    let err = zk
        .create(&orphan, &b""[..], CreateMode::PersistentSequential)
        .await
        .want_err("creating a sequential node under a missing parent");
    assert_eq!(err, CreateError::NoNode);
    assert_eq!(zk.exists(&env.path("missing")).await.want("exists"), None);
}

/// Ephemeral nodes cannot have children: NoChildrenForEphemerals, whatever the child's mode.
pub async fn create_under_an_ephemeral_fails_with_no_children_for_ephemerals<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let parent = env.path("ephemeral");
    zk.create(&parent, &b""[..], CreateMode::Ephemeral)
        .await
        .want("create ephemeral");
    for mode in [
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
    ] {
        let err = zk
            .create(&format!("{parent}/child"), &b""[..], mode)
            .await
            .want_err("creating under an ephemeral");
        assert_eq!(err, CreateError::NoChildrenForEphemerals, "mode {mode:?}");
    }
    let (children, stat) = zk.get_children(&parent).await.want("get_children");
    assert!(children.is_empty());
    assert_eq!(stat.num_children, 0);
}

/// An ACL naming the `auth` scheme needs an authenticated identity: without one, create and
/// set_acl fail with InvalidAcl and change nothing.
pub async fn create_with_an_auth_acl_without_identity_fails_with_invalid_acl<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("creator-only");
    let err = zk
        .create_with(ops::Create::new(path.clone(), &b""[..]).acl(Acl::CREATOR_ALL))
        .await
        .want_err("create with a creator-only ACL and no identity");
    assert_eq!(err, CreateError::InvalidAcl);
    assert_eq!(zk.exists(&path).await.want("exists"), None);

    create_node(&zk, &path, b"").await;
    let err = zk
        .set_acl(&path, Acl::CREATOR_ALL, None)
        .await
        .want_err("set_acl with a creator-only ACL and no identity");
    assert_eq!(err, SetAclError::InvalidAcl);
    let (acl, stat) = zk.get_acl(&path).await.want("get_acl");
    assert_eq!(acl, Acl::OPEN_UNSAFE.to_vec());
    assert_eq!(stat.aversion, 0);
}

/// Invalid paths and options fail at once with a typed error, without a round trip, and the
/// session carries on.
pub async fn invalid_arguments_fail_before_anything_is_sent<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    for bad in ["relative", "/trailing/", "/double//slash", ""] {
        let outcome = now_or_never(zk.get_data(bad)).expect("an invalid path fails at once");
        assert!(
            matches!(
                outcome.as_ref().map_err(OpError::kind),
                Err(GetDataError::Common(CommonError::InvalidPath(_)))
            ),
            "get_data({bad:?}) gave {outcome:?}"
        );
    }
    let outcome = now_or_never(
        zk.create_with(ops::Create::new(env.path("no-acl"), &b""[..]).acl(Vec::<Acl>::new())),
    )
    .expect("an empty ACL fails at once");
    assert!(
        matches!(
            outcome.as_ref().map_err(OpError::kind),
            Err(CreateError::Common(CommonError::InvalidArgument(_)))
        ),
        "create with an empty ACL gave {outcome:?}"
    );
    let outcome = now_or_never(zk.create_with(
        ops::Create::new(env.path("no-ttl"), &b""[..]).mode(CreateMode::PersistentWithTtl),
    ))
    .expect("a TTL mode without TTL fails at once");
    assert!(
        matches!(
            outcome.as_ref().map_err(OpError::kind),
            Err(CreateError::Common(CommonError::InvalidArgument(_)))
        ),
        "create in a TTL mode without a TTL gave {outcome:?}"
    );
    let outcome = now_or_never(
        zk.create_with(ops::Create::new(env.path("ttl"), &b""[..]).ttl(Duration::from_secs(1))),
    )
    .expect("a TTL without a TTL mode fails at once");
    assert!(
        matches!(
            outcome.as_ref().map_err(OpError::kind),
            Err(CreateError::Common(CommonError::InvalidArgument(_)))
        ),
        "create with a TTL in persistent mode gave {outcome:?}"
    );
    for name in ["no-acl", "no-ttl", "ttl"] {
        assert_eq!(zk.exists(&env.path(name)).await.want("exists"), None);
    }
    assert!(zk.state().is_connected(), "state {:?}", zk.state());
}

/// `delete` fails with NoNode, BadVersion (naming the expected version) and NotEmpty, and
/// deletes at the right version or at any version.
pub async fn delete_reports_no_node_bad_version_and_not_empty<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let err = zk
        .delete(&env.path("missing"), None)
        .await
        .want_err("deleting a missing node");
    assert_eq!(err, DeleteError::NoNode);
    assert_eq!(
        (err.operation(), err.path()),
        ("delete", Some(env.path("missing").as_str()))
    );

    let node = env.path("versioned");
    create_node(&zk, &node, b"v0").await;
    zk.set_data(&node, &b"v1"[..], None).await.want("set_data");
    let err = zk
        .delete(&node, Some(0))
        .await
        .want_err("deleting at a stale version");
    assert_eq!(err, DeleteError::BadVersion { expected: 0 });
    assert!(zk.exists(&node).await.want("exists").is_some());
    zk.delete(&node, Some(1))
        .await
        .want("deleting at the current version");
    assert_eq!(zk.exists(&node).await.want("exists"), None);

    let parent = env.path("parent");
    create_node(&zk, &parent, b"").await;
    create_node(&zk, &format!("{parent}/child"), b"").await;
    let err = zk
        .delete(&parent, None)
        .await
        .want_err("deleting a node with children");
    assert_eq!(err, DeleteError::NotEmpty);
    zk.delete(&format!("{parent}/child"), None)
        .await
        .want("delete child");
    zk.delete(&parent, None)
        .await
        .want("delete the emptied parent");
    assert_eq!(zk.exists(&parent).await.want("exists"), None);
}

/// `exists` returns the node's stat, or `None` for a missing node (not an error).
pub async fn exists_returns_the_stat_or_none<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("node");
    assert_eq!(
        zk.exists(&path).await.want("exists of a missing node"),
        None
    );
    let created = create_node(&zk, &path, b"abc").await;
    let stat = zk
        .exists(&path)
        .await
        .want("exists")
        .expect("the node exists");
    assert_eq!(stat, created.stat);
    create_node(&zk, &format!("{path}/child"), b"").await;
    let stat = zk
        .exists(&path)
        .await
        .want("exists")
        .expect("the node exists");
    assert_eq!(stat.num_children, 1);
    assert_eq!(stat.data_length, 3);
}

/// `get_data` of a missing node fails with NoNode, and a watching read that failed leaves no
/// watch behind.
pub async fn get_data_of_a_missing_node_fails_with_no_node<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("missing");
    let err = zk
        .get_data(&path)
        .await
        .want_err("get_data of a missing node");
    assert_eq!(err, GetDataError::NoNode);
    assert_eq!(
        err.to_string(),
        format!("get_data {path}: no node (NONODE)")
    );
    let err = zk
        .get_data_and_watch(&path)
        .await
        .want_err("get_data_and_watch of a missing node");
    assert_eq!(err, GetDataError::NoNode);
    let err = zk
        .check_watches(&path, WatcherType::Any)
        .await
        .want_err("check_watches after a failed watching read");
    assert_eq!(err, WatchesError::NoWatcher);
}

/// `set_data` applies at the expected version (bumping it), fails with BadVersion naming the
/// expected version (changing nothing), and fails with NoNode on a missing node.
pub async fn set_data_checks_the_version<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("node");
    let created = create_node(&zk, &path, b"v0").await;
    let stat = zk
        .set_data(&path, &b"v1!"[..], Some(0))
        .await
        .want("set_data at version 0");
    assert_eq!(stat.version, 1);
    assert_eq!(stat.data_length, 3);
    assert_eq!(stat.czxid, created.stat.czxid);
    assert!(stat.mzxid.0 > created.stat.mzxid.0, "mzxid advances");

    let err = zk
        .set_data(&path, &b"stale"[..], Some(0))
        .await
        .want_err("set_data at a stale version");
    assert_eq!(err, SetDataError::BadVersion { expected: 0 });
    assert_eq!(
        err.to_string(),
        format!("set_data {path}: version mismatch (BADVERSION): expected version 0")
    );
    let (data, stat) = zk.get_data(&path).await.want("get_data");
    assert_eq!((&data[..], stat.version), (&b"v1!"[..], 1));

    let stat = zk
        .set_data(&path, &b""[..], None)
        .await
        .want("set_data at any version");
    assert_eq!((stat.version, stat.data_length), (2, 0));

    let err = zk
        .set_data(&env.path("missing"), &b""[..], None)
        .await
        .want_err("set_data of a missing node");
    assert_eq!(err, SetDataError::NoNode);
}

/// `get_children` lists the children's names (not paths) with the parent's stat; a leaf has
/// none; a missing node fails with NoNode.
pub async fn get_children_lists_names_and_stat<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let parent = env.path("parent");
    create_node(&zk, &parent, b"").await;
    for name in ["b", "a", "c"] {
        create_node(&zk, &format!("{parent}/{name}"), b"").await;
    }
    let (children, stat) = zk.get_children(&parent).await.want("get_children");
    assert_eq!(sorted(children), ["a", "b", "c"]);
    assert_eq!((stat.num_children, stat.cversion), (3, 3));
    let (children, stat) = zk
        .get_children(&format!("{parent}/a"))
        .await
        .want("get_children of a leaf");
    assert!(children.is_empty());
    assert_eq!(stat.num_children, 0);
    let err = zk
        .get_children(&env.path("missing"))
        .await
        .want_err("get_children of a missing node");
    assert_eq!(err, GetChildrenError::NoNode);
}

/// `get_acl` returns the ACL and its version; `set_acl` applies at the expected ACL version,
/// fails with BadVersion otherwise; the ACL is enforced (NoAuth) and NoNode is reported.
pub async fn acl_is_read_and_replaced_with_version_checks<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let path = env.path("guarded");
    create_node(&zk, &path, b"data").await;
    let (acl, stat) = zk.get_acl(&path).await.want("get_acl");
    assert_eq!(acl, vec![Acl::new(Perms::ALL, Id::ANYONE)]);
    assert_eq!(stat.aversion, 0);

    let read_admin = vec![Acl::new(Perms(Perms::READ.0 | Perms::ADMIN.0), Id::ANYONE)];
    let stat = zk
        .set_acl(&path, read_admin.clone(), Some(0))
        .await
        .want("set_acl at ACL version 0");
    assert_eq!(stat.aversion, 1);
    assert_eq!(stat.version, 0, "set_acl leaves the data version alone");
    let err = zk
        .set_acl(&path, Acl::OPEN_UNSAFE, Some(0))
        .await
        .want_err("set_acl at a stale ACL version");
    assert_eq!(err, SetAclError::BadVersion { expected: 0 });
    let (acl, stat) = zk.get_acl(&path).await.want("get_acl");
    assert_eq!((acl, stat.aversion), (read_admin, 1));
    let stat = zk
        .set_acl(&path, Acl::READ_UNSAFE, Some(1))
        .await
        .want("set_acl at ACL version 1");
    assert_eq!(stat.aversion, 2);
    let (acl, _) = zk.get_acl(&path).await.want("get_acl");
    assert_eq!(acl, Acl::READ_UNSAFE.to_vec());

    // Read-only for everybody now: reads work, writes, child creation and ACL changes do not.
    let (data, _) = zk.get_data(&path).await.want("get_data of a readable node");
    assert_eq!(&data[..], b"data");
    let err = zk
        .set_data(&path, &b"x"[..], None)
        .await
        .want_err("set_data without WRITE");
    assert_eq!(err, SetDataError::NoAuth);
    let err = zk
        .create(&format!("{path}/child"), &b""[..], CreateMode::Persistent)
        .await
        .want_err("create without CREATE");
    assert_eq!(err, CreateError::NoAuth);
    let err = zk
        .set_acl(&path, Acl::OPEN_UNSAFE, None)
        .await
        .want_err("set_acl without ADMIN");
    assert_eq!(err, SetAclError::NoAuth);

    let missing = env.path("missing");
    assert_eq!(
        zk.get_acl(&missing)
            .await
            .want_err("get_acl of a missing node"),
        GetAclError::NoNode
    );
    assert_eq!(
        zk.set_acl(&missing, Acl::OPEN_UNSAFE, None)
            .await
            .want_err("set_acl of a missing node"),
        SetAclError::NoNode
    );
}

/// `sync` returns the path it synced; `get_config` reads `/zookeeper/config` (on a standalone
/// server: present and without `server.N` lines).
pub async fn sync_returns_the_path_and_get_config_reads_the_config_node<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let synced = zk.sync(env.root()).await.want("sync");
    assert_eq!(synced, env.root());
    let synced = zk.sync("/").await.want("sync of /");
    assert_eq!(synced, "/");
    let (config, _stat) = zk.get_config().await.want("get_config");
    let config = String::from_utf8_lossy(&config);
    assert!(
        !config.contains("server.1="),
        "a standalone server's config names no members: {config:?}"
    );
    let ((watched, _), _watch) = zk.get_config_and_watch().await.want("get_config_and_watch");
    assert_eq!(String::from_utf8_lossy(&watched), config);

    // A reconfig reaches the server (incremental, with its null member list, and whole) and
    // fails typed: a standalone server with reconfiguration disabled refuses it.
    let incremental = ops::Reconfig::incremental(["server.9=127.0.0.1:2999:3999;2998"], []);
    for change in [
        incremental,
        ops::Reconfig::replace(["server.9=127.0.0.1:2999:3999;2998"]),
    ] {
        let refused = zk
            .reconfig(change)
            .await
            .want_err("reconfig on a standalone server");
        assert!(
            matches!(
                refused.kind(),
                ops::ReconfigError::ReconfigDisabled | ops::ReconfigError::Unimplemented
            ),
            "[{}] {refused}",
            A::NAME
        );
        assert!(refused.to_string().starts_with("reconfig: "), "{refused}");
    }
    let empty = zk
        .reconfig(ops::Reconfig::incremental(Vec::<String>::new(), []))
        .await;
    assert!(
        matches!(
            empty.as_ref().map_err(|e| e.kind()),
            Err(ops::ReconfigError::Common(CommonError::InvalidArgument(_)))
        ),
        "nothing to change is refused before sending: {empty:?}"
    );
}

/// `get_ephemerals` lists this session's ephemeral nodes whose path starts with the prefix —
/// not persistent nodes, not other sessions' ephemerals.
pub async fn get_ephemerals_lists_this_sessions_ephemerals_under_a_prefix<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let other = env.client::<A>().await;
    let dir = env.path("dir");
    create_node(&zk, &dir, b"").await;
    for name in ["e1", "e2"] {
        zk.create(&format!("{dir}/{name}"), &b""[..], CreateMode::Ephemeral)
            .await
            .want("create ephemeral");
    }
    create_node(&zk, &format!("{dir}/persistent"), b"").await;
    other
        .create(&format!("{dir}/theirs"), &b""[..], CreateMode::Ephemeral)
        .await
        .want("create another session's ephemeral");

    let mine = sorted(zk.get_ephemerals(&dir).await.want("get_ephemerals"));
    assert_eq!(mine, [format!("{dir}/e1"), format!("{dir}/e2")]);
    let everywhere = sorted(zk.get_ephemerals("/").await.want("get_ephemerals of /"));
    assert_eq!(everywhere, mine);
    let narrow = zk
        .get_ephemerals(&format!("{dir}/e1"))
        .await
        .want("get_ephemerals of a narrow prefix");
    assert_eq!(narrow, [format!("{dir}/e1")]);
    let theirs = other.get_ephemerals(&dir).await.want("get_ephemerals");
    assert_eq!(theirs, [format!("{dir}/theirs")]);
}

/// `get_all_children_number` counts every descendant (not only children); NoNode on a missing
/// node.
pub async fn get_all_children_number_counts_every_descendant<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let top = env.path("top");
    for path in ["", "/a", "/a/x", "/a/y", "/a/y/deep", "/b"] {
        create_node(&zk, &format!("{top}{path}"), b"").await;
    }
    assert_eq!(
        zk.get_all_children_number(&top).await.want("count"),
        5,
        "five descendants"
    );
    assert_eq!(
        zk.get_all_children_number(&format!("{top}/a"))
            .await
            .want("count"),
        3
    );
    assert_eq!(
        zk.get_all_children_number(&format!("{top}/b"))
            .await
            .want("count"),
        0
    );
    let err = zk
        .get_all_children_number(&env.path("missing"))
        .await
        .want_err("count of a missing node");
    assert_eq!(err, GetAllChildrenNumberError::NoNode);
}

/// Null data, as Java's `create(path, null, ...)` makes it (`Create::null`), is told apart from
/// empty data by the read that asks (`GetData::or_null`: the server sends null back as -1),
/// reads as empty through `get_data`, and `SetData::null` makes data null again.
pub async fn null_data_is_told_apart_from_empty<A: Adapter>(env: Env) {
    use bytes::Bytes;
    use zk_recipes::Zk;

    let zk = env.client::<A>().await;
    let (null, empty) = (env.path("null"), env.path("empty"));
    Zk::call(&zk, ops::Create::new(null.clone(), Bytes::new()).null())
        .await
        .want("create with null data");
    zk.create(&empty, &b""[..], CreateMode::Persistent)
        .await
        .want("create with empty data");
    let read = |path: &str| Zk::call(&zk, ops::GetData::new(path).or_null());
    let (data, stat) = read(&null).await.want("read null");
    assert_eq!(data, None, "[{}] null is told apart", A::NAME);
    assert_eq!(stat.data_length, 0);
    let (data, _) = read(&empty).await.want("read empty");
    assert_eq!(data, Some(Bytes::new()), "[{}] empty is empty", A::NAME);
    let (plain, _) = zk.get_data(&null).await.want("get_data");
    assert!(plain.is_empty(), "get_data reads null as empty");

    zk.set_data(&null, &b"x"[..], None).await.want("set data");
    assert_eq!(read(&null).await.want("read").0.as_deref(), Some(&b"x"[..]));
    Zk::call(&zk, ops::SetData::new(null.clone(), Bytes::new()).null())
        .await
        .want("set null data");
    assert_eq!(read(&null).await.want("read").0, None, "null again");
}
