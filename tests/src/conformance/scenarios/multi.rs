//! multi (atomic writes) and multi_read (independent reads).

use bytes::Bytes;
use zk_client::ops::{self, MultiError, OpResult, ReadResult};
use zk_client::proto::{CreateMode, ErrorCode};

use super::{create_node, sequence_of, sorted, Want};
use crate::conformance::{Adapter, Api, Env};

/// A multi of every write kind applies all of them and returns one result per op, in order,
/// with chroot-free paths, sequence suffixes and stats.
pub async fn multi_applies_every_op_and_returns_each_result<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let updated = env.path("updated");
    let doomed = env.path("doomed");
    create_node(&zk, &updated, b"old").await;
    create_node(&zk, &doomed, b"").await;
    let created = env.path("created");
    let container = env.path("container");
    let sequential = env.path("seq-");

    let results = zk
        .multi(
            ops::Multi::new()
                .create(ops::Create::new(created.clone(), &b"new"[..]))
                .create(ops::Create::new(container.clone(), &b""[..]).mode(CreateMode::Container))
                .create(
                    ops::Create::new(sequential.clone(), &b""[..])
                        .mode(CreateMode::PersistentSequential),
                )
                .set_data(ops::SetData::new(updated.clone(), &b"fresh"[..]).version(0))
                .check(updated.clone(), 1)
                .delete(ops::Delete::new(doomed.clone())),
        )
        .await
        .want("multi");
    assert_eq!(results.len(), 6, "one result per op: {results:?}");
    assert!(
        matches!(&results[0], OpResult::Created { path, .. } if *path == created),
        "{:?}",
        results[0]
    );
    match &results[1] {
        OpResult::Created {
            path,
            stat: Some(stat),
        } => {
            assert_eq!(*path, container);
            assert_eq!(stat.version, 0);
        }
        other => panic!("a container create in a multi returns its path and stat: {other:?}"),
    }
    let sequential_path = match &results[2] {
        OpResult::Created { path, .. } => path.clone(),
        other => panic!("expected a created sequential node, got {other:?}"),
    };
    assert!(sequential_path.starts_with(&sequential));
    // The root's children so far: updated, doomed, created, container.
    assert_eq!(sequence_of(&sequential_path), 4);
    match &results[3] {
        OpResult::DataSet(stat) => assert_eq!((stat.version, stat.data_length), (1, 5)),
        other => panic!("expected DataSet, got {other:?}"),
    }
    assert_eq!(results[4], OpResult::Checked);
    assert_eq!(results[5], OpResult::Deleted);

    let (data, _) = zk.get_data(&created).await.want("get_data");
    assert_eq!(&data[..], b"new");
    let (data, stat) = zk.get_data(&updated).await.want("get_data");
    assert_eq!((&data[..], stat.version), (&b"fresh"[..], 1));
    assert_eq!(zk.exists(&doomed).await.want("exists"), None);
    assert!(zk.exists(&sequential_path).await.want("exists").is_some());
    assert!(zk.exists(&container).await.want("exists").is_some());
}

/// A multi with a failing op reports `OpFailed { index, code }` for exactly that op and
/// applies nothing — whichever kind of op fails and wherever it sits.
pub async fn multi_failure_names_the_failing_op_and_applies_nothing<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let existing = env.path("existing");
    let parent = env.path("parent");
    create_node(&zk, &existing, b"original").await;
    create_node(&zk, &parent, b"").await;
    create_node(&zk, &format!("{parent}/child"), b"").await;
    let fresh = env.path("fresh");
    let fresh2 = env.path("fresh2");
    let create = |path: &str| ops::Create::new(path.to_owned(), &b"x"[..]);

    let cases: Vec<(&str, ops::Multi, usize, ErrorCode)> = vec![
        (
            "set_data at a wrong version in the middle",
            ops::Multi::new()
                .create(create(&fresh))
                .set_data(ops::SetData::new(existing.clone(), &b"changed"[..]).version(5))
                .create(create(&fresh2)),
            1,
            ErrorCode::BadVersion,
        ),
        (
            "a failing check last",
            ops::Multi::new()
                .create(create(&fresh))
                .set_data(ops::SetData::new(existing.clone(), &b"changed"[..]))
                .check(existing.clone(), 7),
            2,
            ErrorCode::BadVersion,
        ),
        (
            "deleting a missing node",
            ops::Multi::new()
                .create(create(&fresh))
                .delete(ops::Delete::new(env.path("missing"))),
            1,
            ErrorCode::NoNode,
        ),
        (
            "creating an existing node first",
            ops::Multi::new()
                .create(create(&existing))
                .create(create(&fresh)),
            0,
            ErrorCode::NodeExists,
        ),
        (
            "creating the same node twice",
            ops::Multi::new()
                .create(create(&fresh))
                .create(create(&fresh)),
            1,
            ErrorCode::NodeExists,
        ),
        (
            "deleting a node with children",
            ops::Multi::new()
                .set_data(ops::SetData::new(existing.clone(), &b"changed"[..]))
                .delete(ops::Delete::new(parent.clone())),
            1,
            ErrorCode::NotEmpty,
        ),
        (
            "creating under a missing parent",
            ops::Multi::new()
                .delete(ops::Delete::new(format!("{parent}/child")))
                .create(create(&env.path("missing/child"))),
            1,
            ErrorCode::NoNode,
        ),
    ];
    for (what, multi, index, code) in cases {
        let (operation, path) = match &multi.ops[index] {
            ops::MultiOp::Create(c) => ("create", c.path.clone()),
            ops::MultiOp::Delete(d) => ("delete", d.path.clone()),
            ops::MultiOp::SetData(s) => ("set_data", s.path.clone()),
            ops::MultiOp::Check { path, .. } => ("check", path.clone()),
            other => panic!("no such op in these cases: {other:?}"),
        };
        let err = zk.multi(multi).await.want_err(what);
        assert_eq!(
            err,
            MultiError::OpFailed {
                index,
                operation,
                path: path.clone(),
                code
            },
            "{what}"
        );
        // Its message names the op that failed: index, kind, path, and why.
        assert_eq!(
            err.to_string(),
            format!(
                "multi: op {index} ({operation} {path}) failed: {} ({}); nothing was applied",
                code.description(),
                code.java_name()
            ),
            "{what}"
        );
        // Nothing was applied.
        let (data, stat) = zk.get_data(&existing).await.want("get_data");
        assert_eq!(
            (&data[..], stat.version),
            (&b"original"[..], 0),
            "{what}: the data is unchanged"
        );
        for path in [&fresh, &fresh2] {
            assert_eq!(
                zk.exists(path).await.want("exists"),
                None,
                "{what}: {path} was not created"
            );
        }
        let (children, _) = zk.get_children(&parent).await.want("get_children");
        assert_eq!(children, ["child"], "{what}: the child was not deleted");
    }
}

/// multi_read runs each read on its own: successes and NoNode failures side by side, in
/// order.
pub async fn multi_read_returns_each_reads_own_outcome<A: Adapter>(env: Env) {
    let zk = env.client::<A>().await;
    let node = env.path("node");
    let dir = env.path("dir");
    create_node(&zk, &node, b"value").await;
    create_node(&zk, &dir, b"").await;
    create_node(&zk, &format!("{dir}/b"), b"").await;
    create_node(&zk, &format!("{dir}/a"), b"").await;
    let missing = env.path("missing");
    let (_, node_stat) = zk.get_data(&node).await.want("get_data");

    let results = zk
        .multi_read(
            ops::MultiRead::new()
                .get_data(node.clone())
                .get_children(dir.clone())
                .get_data(missing.clone())
                .get_children(missing.clone())
                .get_children(node.clone()),
        )
        .await
        .want("multi_read");
    assert_eq!(results.len(), 5, "{results:?}");
    assert_eq!(
        results[0],
        Ok(ReadResult::Data(Bytes::from_static(b"value"), node_stat))
    );
    match &results[1] {
        Ok(ReadResult::Children(names)) => assert_eq!(sorted(names.clone()), ["a", "b"]),
        other => panic!("expected children, got {other:?}"),
    }
    assert_eq!(results[2], Err(ErrorCode::NoNode));
    assert_eq!(results[3], Err(ErrorCode::NoNode));
    assert_eq!(results[4], Ok(ReadResult::Children(Vec::new())));
}
