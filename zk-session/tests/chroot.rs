//! The chroot of `h:1/app`: prepended to every path sent, stripped from every path received.

mod support;

use bytes::Bytes;
use support::{config, connected, Sim};
use zk_session::ops::{self, Operation};
use zk_session::proto::{
    AddWatchMode, Create2Response, ErrorCode, ErrorResponse, EventType, GetDataResponse,
    GetEphemeralsResponse, MultiOp, MultiResponse, MultiResult, PathResponse, Request, Response,
    Stat,
};
use zk_session::WatchNotice;

/// The server path of every path-carrying request.
fn request_path(request: &Request) -> Vec<String> {
    match request {
        Request::Create2(r) => vec![r.path.clone()],
        Request::GetData(r) | Request::Exists(r) | Request::GetChildren2(r) => {
            vec![r.path.clone()]
        }
        Request::Sync(r) | Request::GetEphemerals(r) => vec![r.path.clone()],
        Request::AddWatch(r) => vec![r.path.clone()],
        Request::Delete(r) => vec![r.path.clone()],
        Request::SetData(r) => vec![r.path.clone()],
        Request::Multi(m) => m
            .ops
            .iter()
            .map(|op| match op {
                MultiOp::Create(r) => r.path.clone(),
                MultiOp::Delete(r) => r.path.clone(),
                MultiOp::SetData(r) => r.path.clone(),
                MultiOp::Check(r) => r.path.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect(),
        other => panic!("unexpected {other:?}"),
    }
}

/// Submits `op`, checks the paths it sends, answers with `response`, returns the typed result.
fn round_trip<O: Operation>(
    sim: &mut Sim,
    op: &O,
    sent: &[&str],
    response: Response,
) -> Result<O::Output, O::Error> {
    let id = sim.submit(op);
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(request_path(frames[0].request()), sent);
    sim.reply_ok(frames[0].xid(), response);
    let completion = sim.completion(id).expect("completed");
    op.complete(completion.result)
}

/// Answers the one request the client just wrote.
fn answer(sim: &mut Sim, err: ErrorCode, response: Response) {
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1, "{frames:?}");
    sim.reply(frames[0].xid(), err, &response);
}

/// Submits `op` and returns the server paths its request carries.
fn sent_paths<O: Operation>(sim: &mut Sim, op: &O) -> Vec<String> {
    sim.submit(op);
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1, "{frames:?}");
    request_path(frames[0].request())
}

#[test]
fn every_request_path_carries_the_chroot_and_the_root_maps_to_it() {
    let mut sim = connected(config("h:1/app"));
    assert_eq!(sent_paths(&mut sim, &ops::GetData::new("/")), ["/app"]);
    assert_eq!(
        sent_paths(&mut sim, &ops::Exists::new("/a/b")),
        ["/app/a/b"]
    );
    assert_eq!(sent_paths(&mut sim, &ops::GetChildren::new("/")), ["/app"]);
    assert_eq!(sent_paths(&mut sim, &ops::Delete::new("/d")), ["/app/d"]);
    assert_eq!(
        sent_paths(&mut sim, &ops::SetData::new("/s", Bytes::new())),
        ["/app/s"]
    );
    assert_eq!(
        sent_paths(
            &mut sim,
            &ops::AddWatch::new("/", AddWatchMode::PersistentRecursive)
        ),
        ["/app"]
    );
    let multi = ops::Multi::new()
        .create(ops::Create::new("/m", Bytes::new()))
        .check("/", 1)
        .delete(ops::Delete::new("/m/x"));
    assert_eq!(sent_paths(&mut sim, &multi), ["/app/m", "/app", "/app/m/x"]);
}

#[test]
fn create_sync_multi_and_ephemerals_results_come_back_without_the_chroot() {
    let mut sim = connected(config("h:1/app"));
    let created = round_trip(
        &mut sim,
        &ops::Create::new("/seq-", Bytes::new())
            .mode(zk_session::proto::CreateMode::PersistentSequential),
        &["/app/seq-"],
        Response::Create2(Create2Response {
            path: "/app/seq-0000000007".into(),
            stat: Stat::default(),
        }),
    )
    .expect("created");
    assert_eq!(created.path, "/seq-0000000007");

    let synced = round_trip(
        &mut sim,
        &ops::Sync::new("/"),
        &["/app"],
        Response::Sync(PathResponse {
            path: "/app".into(),
        }),
    )
    .expect("synced");
    assert_eq!(synced, "/");

    let results = round_trip(
        &mut sim,
        &ops::Multi::new()
            .create(ops::Create::new("/m", Bytes::new()))
            .set_data(ops::SetData::new("/m", Bytes::new())),
        &["/app/m", "/app/m"],
        Response::Multi(MultiResponse {
            results: vec![
                MultiResult::Create {
                    path: "/app/m".into(),
                    stat: None,
                },
                MultiResult::SetData(Stat::default()),
            ],
        }),
    )
    .expect("multi");
    assert_eq!(
        results[0],
        ops::OpResult::Created {
            path: "/m".into(),
            stat: None
        }
    );

    let ephemerals = round_trip(
        &mut sim,
        &ops::GetEphemerals::new("/"),
        &["/app"],
        Response::GetEphemerals(GetEphemeralsResponse {
            // The server matches the prefix `/app` as a string: `/apple/e3` is outside the
            // chroot and must not come back as if it were `/e3`.
            ephemerals: vec!["/app/e1".into(), "/apple/e3".into(), "/app/x/e2".into()],
        }),
    )
    .expect("ephemerals");
    assert_eq!(ephemerals, ["/e1", "/x/e2"]);
}

#[test]
fn notifications_come_back_without_the_chroot_and_set_watches_carries_it() {
    let mut sim = connected(config("h1:1,h2:2/app"));
    let root = sim.submit(&ops::GetData::new("/").watch());
    answer(
        &mut sim,
        ErrorCode::Ok,
        Response::GetData(GetDataResponse::default()),
    );
    let exist = sim.submit(&ops::Exists::new("/e").watch());
    answer(&mut sim, ErrorCode::NoNode, Response::Empty);
    let recursive = sim.submit(&ops::AddWatch::new("/r", AddWatchMode::PersistentRecursive));
    answer(
        &mut sim,
        ErrorCode::Ok,
        Response::AddWatch(ErrorResponse { err: ErrorCode::Ok }),
    );
    let config_watch = sim.submit(&ops::GetConfig::new().watch());
    answer(
        &mut sim,
        ErrorCode::Ok,
        Response::GetData(GetDataResponse::default()),
    );
    let [root, exist, recursive, config_watch] =
        [root, exist, recursive, config_watch].map(|id| id.watch_id());
    sim.completions();

    // Re-registration uses server paths; the config node lives outside the chroot.
    sim.reconnect(1);
    let frames = sim.client_frames();
    let Request::SetWatches2(sw) = frames[0].request() else {
        panic!("expected SetWatches2, got {frames:?}");
    };
    let mut data = sw.data_watches.clone();
    data.sort();
    assert_eq!(data, ["/app", "/zookeeper/config"]);
    assert_eq!(sw.exist_watches, ["/app/e"]);
    assert_eq!(sw.persistent_recursive_watches, ["/app/r"]);
    sim.reply_ok(frames[0].xid(), Response::Empty);
    sim.watch_notices();

    let node = |event_type, path: &str| WatchNotice::Node {
        event_type,
        path: path.to_owned(),
    };
    sim.notify(EventType::NodeDataChanged, "/app");
    assert_eq!(
        sim.watch_notices(),
        [(root, node(EventType::NodeDataChanged, "/"))]
    );
    sim.notify(EventType::NodeCreated, "/app/e");
    assert_eq!(
        sim.watch_notices(),
        [(exist, node(EventType::NodeCreated, "/e"))]
    );
    sim.notify(EventType::NodeCreated, "/app/r/deep/node");
    assert_eq!(
        sim.watch_notices(),
        [(recursive, node(EventType::NodeCreated, "/r/deep/node"))]
    );
    sim.notify(EventType::NodeDataChanged, "/zookeeper/config");
    assert_eq!(
        sim.watch_notices(),
        [(
            config_watch,
            node(EventType::NodeDataChanged, "/zookeeper/config")
        )]
    );
    // The same relative path outside the chroot is not ours.
    sim.notify(EventType::NodeCreated, "/r/deep/node");
    assert!(sim.watch_notices().is_empty());
}
