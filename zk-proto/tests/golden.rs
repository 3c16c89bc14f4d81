//! Golden byte vectors captured from the real Java client and server (ZooKeeper 3.8.0): every
//! frame decodes, re-encodes to the very same bytes, and the key ones decode to the values the
//! capture recorded. See `fixtures/README.md` for how they were captured.

use std::fs;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use zk_proto::*;

struct Fixture {
    file: String,
    from_client: bool,
    opcode: Option<OpCode>,
    xid: Option<i32>,
    frame: Bytes,
}

fn fixtures() -> Vec<Fixture> {
    fixtures_in("tests/fixtures")
}

/// The frames of the capture with jute nulls (`fixtures/null/README.md`).
fn null_fixtures() -> Vec<Fixture> {
    fixtures_in("tests/fixtures/null")
}

fn fixtures_in(dir: &str) -> Vec<Fixture> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let manifest = fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    manifest
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let file = cols[0].to_owned();
            let bytes = fs::read(dir.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            Fixture {
                from_client: cols[1] == "client->server",
                opcode: cols[2]
                    .parse::<i32>()
                    .ok()
                    .map(|v| OpCode::from_i32(v).unwrap_or_else(|| panic!("{file}: opcode {v}"))),
                xid: cols[3].parse().ok(),
                frame: Bytes::from(bytes),
                file,
            }
        })
        .collect()
}

fn fixture(name: &str) -> Bytes {
    fixtures()
        .into_iter()
        .find(|f| f.file == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .frame
}

/// Cuts the one frame out of a fixture file, checking the prefix covers exactly the file.
fn body(frame: &Bytes) -> Bytes {
    let mut buf = BytesMut::from(&frame[..]);
    let body = FrameDecoder::default()
        .decode(&mut buf)
        .expect("valid length")
        .expect("whole frame");
    assert!(buf.is_empty(), "bytes after the frame");
    body
}

#[test]
fn every_golden_frame_decodes_and_re_encodes_to_the_same_bytes() {
    let all = fixtures();
    assert!(all.len() >= 60, "only {} fixtures", all.len());
    let nulls = null_fixtures();
    assert_eq!(nulls.len(), 20, "the null capture's frames");
    for f in all.iter().chain(&nulls) {
        let body = body(&f.frame);
        let mut out = BytesMut::new();
        match (f.from_client, f.opcode, f.xid) {
            (true, None, _) => {
                let req = ConnectRequest::decode(&mut Reader::new(body)).expect(&f.file);
                write_connect_request(&mut out, &req);
            }
            (false, None, None) => {
                let resp = ConnectResponse::decode(&mut Reader::new(body)).expect(&f.file);
                write_frame(&mut out, &resp);
            }
            (true, Some(op), Some(xid)) => {
                let mut reader = Reader::new(body);
                let header = RequestHeader::decode(&mut reader).expect(&f.file);
                assert_eq!(header.xid, Xid(xid), "{}", f.file);
                assert_eq!(header.op, op.as_i32(), "{}", f.file);
                let request = Request::decode(op, &mut reader).expect(&f.file);
                assert_eq!(reader.remaining(), 0, "{}: trailing bytes", f.file);
                write_request(&mut out, header.xid, &request);
            }
            (false, _, Some(-1)) => {
                let reply = RawReply::parse(body).expect(&f.file);
                assert_eq!(reply.header.xid, Xid::NOTIFICATION);
                let mut reader = Reader::new(reply.body.clone());
                let event = WatcherEvent::decode(&mut reader).expect(&f.file);
                assert_eq!(reader.remaining(), 0, "{}: trailing bytes", f.file);
                out.extend_from_slice(&((16 + event.encoded_len()) as i32).to_be_bytes());
                reply.header.encode(&mut out);
                event.encode(&mut out);
            }
            (false, Some(op), Some(xid)) => {
                let reply = RawReply::parse(body).expect(&f.file);
                assert_eq!(reply.header.xid, Xid(xid), "{}", f.file);
                let response = match reply.response(op).expect(&f.file) {
                    Ok(r) => r,
                    Err(_) => Response::Empty,
                };
                write_reply(&mut out, &reply.header, &response);
            }
            other => panic!("{}: unexpected manifest row {other:?}", f.file),
        }
        assert_eq!(&out[..], &f.frame[..], "{}: re-encoding differs", f.file);
    }
}

fn request(name: &str) -> (RequestHeader, Request) {
    let mut reader = Reader::new(body(&fixture(name)));
    let header = RequestHeader::decode(&mut reader).unwrap();
    let op = OpCode::from_i32(header.op).unwrap();
    (header, Request::decode(op, &mut reader).unwrap())
}

fn reply(name: &str, op: OpCode) -> (ReplyHeader, Result<Response, ErrorCode>) {
    let raw = RawReply::parse(body(&fixture(name))).unwrap();
    (raw.header.clone(), raw.response(op).unwrap())
}

#[test]
fn golden_handshake_has_the_documented_shape() {
    let req =
        ConnectRequest::decode(&mut Reader::new(body(&fixture("connect_request.bin")))).unwrap();
    assert_eq!(fixture("connect_request.bin").len(), 4 + 45);
    assert_eq!(req.protocol_version, 0);
    assert_eq!(req.session_id, SessionId(0));
    assert_eq!(&req.password[..], &EMPTY_PASSWORD);
    assert_eq!(req.timeout_ms, 4000);
    assert!(!req.read_only);
    let resp =
        ConnectResponse::decode(&mut Reader::new(body(&fixture("connect_response.bin")))).unwrap();
    assert_eq!(resp.timeout_ms, 4000);
    assert_ne!(resp.session_id, SessionId(0));
    assert_eq!(resp.password.len(), 16);
    let again =
        ConnectRequest::decode(&mut Reader::new(body(&fixture("reconnect_request.bin")))).unwrap();
    assert_eq!(again.session_id, resp.session_id);
    assert_eq!(again.password, resp.password);
    assert!(again.last_zxid_seen.0 > 0);
}

#[test]
fn golden_create_get_set_and_children_decode_to_their_values() {
    let (_, Request::Create(create)) = request("create_request.bin") else {
        panic!("not a create")
    };
    assert_eq!(create.path, "/golden");
    assert_eq!(create.data.as_deref(), Some(&b"hello"[..]));
    assert_eq!(&create.acl[..], Acl::OPEN_UNSAFE);
    assert_eq!(create.flags, 0);
    let (_, Ok(Response::Create(created))) = reply("create_response.bin", OpCode::Create) else {
        panic!("not a create reply")
    };
    assert_eq!(created.path, "/golden");

    let (_, Request::GetData(get)) = request("get_data_request.bin") else {
        panic!("not a getData")
    };
    assert_eq!((get.path.as_str(), get.watch), ("/golden", true));
    let (_, Ok(Response::GetData(data))) = reply("get_data_response.bin", OpCode::GetData) else {
        panic!("not a getData reply")
    };
    assert_eq!(data.data.as_deref(), Some(&b"hello"[..]));
    assert_eq!(data.stat.data_length, 5);
    assert_eq!(data.stat.version, 0);

    let (_, Request::SetData(set)) = request("set_data_request.bin") else {
        panic!("not a setData")
    };
    assert_eq!(
        (set.data.as_deref(), set.version),
        (Some(&b"world"[..]), -1)
    );
    let (header, Ok(Response::Stat(stat))) = reply("set_data_response.bin", OpCode::SetData) else {
        panic!("not a setData reply")
    };
    assert_eq!(stat.stat.version, 1);
    assert_eq!(stat.stat.mzxid, header.zxid);

    let (_, Request::GetChildren2(children)) = request("get_children2_request.bin") else {
        panic!("not a getChildren2")
    };
    assert_eq!(children.path, "/golden");
    let (_, Ok(Response::GetChildren2(list))) =
        reply("get_children2_response.bin", OpCode::GetChildren2)
    else {
        panic!("not a getChildren2 reply")
    };
    assert_eq!(list.children, ["c1"]);
    assert_eq!(list.stat.num_children, 1);

    let (_, missing) = reply("exists_missing_response.bin", OpCode::Exists);
    assert_eq!(missing, Err(ErrorCode::NoNode));
    let (_, bad) = reply("set_data_bad_version_response.bin", OpCode::SetData);
    assert_eq!(bad, Err(ErrorCode::BadVersion));
}

#[test]
fn golden_watch_notification_and_set_watches_decode_to_their_values() {
    let raw = RawReply::parse(body(&fixture("watch_notification.bin"))).unwrap();
    assert_eq!(raw.header.xid, Xid::NOTIFICATION);
    assert_eq!(raw.header.zxid, Zxid(-1));
    let event = WatcherEvent::decode(&mut Reader::new(raw.body)).unwrap();
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    assert_eq!(event.state, KeeperState::SyncConnected);
    assert_eq!(event.path, "/golden");

    let (header, Request::SetWatches(sw)) = request("set_watches_request.bin") else {
        panic!("not a SetWatches")
    };
    // The Java 3.8 client sends SetWatches with an ordinary sequential xid.
    assert_eq!(header.xid, Xid(13));
    assert_eq!(sw.data_watches, ["/golden/c1"]);
    assert_eq!(sw.exist_watches, ["/golden/missing"]);
    assert_eq!(sw.child_watches, ["/golden"]);
    let reconnect =
        ConnectRequest::decode(&mut Reader::new(body(&fixture("reconnect_request.bin")))).unwrap();
    assert_eq!(sw.relative_zxid, reconnect.last_zxid_seen);
}

#[test]
fn golden_failing_multi_reports_every_per_op_error() {
    let (_, Request::Multi(multi)) = request("multi_failing_request.bin") else {
        panic!("not a multi")
    };
    let ops: Vec<OpCode> = multi.ops.iter().map(MultiOp::opcode).collect();
    assert_eq!(ops, [OpCode::Create, OpCode::Delete, OpCode::SetData]);
    let (header, Ok(Response::Multi(result))) = reply("multi_failing_response.bin", OpCode::Multi)
    else {
        panic!("not a multi reply")
    };
    assert_eq!(header.err, ErrorCode::Ok);
    assert_eq!(
        result.results,
        [
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NoNode),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ]
    );
}

fn null_request(name: &str) -> Request {
    let frame = null_fixtures()
        .into_iter()
        .find(|f| f.file == name)
        .unwrap_or_else(|| panic!("no fixture null/{name}"))
        .frame;
    let mut reader = Reader::new(body(&frame));
    let header = RequestHeader::decode(&mut reader).unwrap();
    Request::decode(OpCode::from_i32(header.op).unwrap(), &mut reader).unwrap()
}

fn null_reply(name: &str, op: OpCode) -> Result<Response, ErrorCode> {
    let frame = null_fixtures()
        .into_iter()
        .find(|f| f.file == name)
        .unwrap_or_else(|| panic!("no fixture null/{name}"))
        .frame;
    RawReply::parse(body(&frame)).unwrap().response(op).unwrap()
}

/// The Java client writes a null buffer or string as length -1 with nothing after it, and the
/// server keeps null data null: each decodes to `None`, told apart from empty (`Some` of
/// nothing), and (by the round-trip test) encodes back to Java's bytes.
#[test]
fn golden_nulls_decode_apart_from_empty() {
    let Request::Create(create) = null_request("create_null_request.bin") else {
        panic!("not a create")
    };
    assert_eq!((create.path.as_str(), create.data), ("/null-data", None));
    let Request::Create(create) = null_request("create_empty_request.bin") else {
        panic!("not a create")
    };
    assert_eq!(create.data, Some(Bytes::new()));

    for (name, expected) in [
        ("get_data_null_response.bin", None),
        ("get_data_empty_response.bin", Some(Bytes::new())),
        ("get_data_after_set_null_response.bin", None),
    ] {
        let Ok(Response::GetData(reply)) = null_reply(name, OpCode::GetData) else {
            panic!("{name}: not a getData reply")
        };
        assert_eq!(reply.data, expected, "{name}");
        assert_eq!(reply.stat.data_length, 0, "{name}");
    }

    let Request::SetData(set) = null_request("set_data_null_request.bin") else {
        panic!("not a setData")
    };
    assert_eq!((set.data, set.version), (None, -1));

    let Request::Reconfig(incremental) = null_request("reconfig_incremental_request.bin") else {
        panic!("not a reconfig")
    };
    assert_eq!(incremental.joining_servers, None);
    assert_eq!(incremental.leaving_servers.as_deref(), Some("3"));
    assert_eq!(incremental.new_members, None);
    assert_eq!(incremental.cur_config_id, -1);
    let Request::Reconfig(replace) = null_request("reconfig_replace_request.bin") else {
        panic!("not a reconfig")
    };
    assert_eq!(
        (replace.joining_servers, replace.leaving_servers),
        (None, None)
    );
    assert_eq!(
        replace.new_members.as_deref(),
        Some("server.1=127.0.0.1:2888:3888;2181")
    );
    // A standalone server refuses a reconfig before looking at it.
    assert_eq!(
        null_reply("reconfig_incremental_response.bin", OpCode::Reconfig),
        Err(ErrorCode::ReconfigDisabled)
    );
}
