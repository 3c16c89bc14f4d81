//! zk-proto alone against a real ZooKeeper 3.8: a plain TCP socket, the handshake, then create,
//! read, list and delete, checking every reply.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use zk_proto::*;
use zk_tests::{Server, ServerOptions};

struct Raw {
    stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
    next_xid: i32,
}

impl Raw {
    fn frame(&mut self) -> Bytes {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf).expect("valid frame") {
                return frame;
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn call(&mut self, request: Request) -> (ReplyHeader, Result<Response, ErrorCode>) {
        let xid = Xid(self.next_xid);
        self.next_xid += 1;
        let op = request.opcode();
        let mut out = BytesMut::new();
        write_request(&mut out, xid, &request);
        self.stream.write_all(&out).expect("write");
        let reply = RawReply::parse(self.frame()).expect("reply header");
        assert_eq!(reply.header.xid, xid, "replies come back in order");
        let body = reply.response(op).expect("reply body decodes");
        (reply.header, body)
    }
}

#[test]
fn zk_proto_alone_performs_a_session_against_a_real_server() {
    let server = Server::standalone(&ServerOptions::default()).expect("start ZooKeeper");
    let stream = TcpStream::connect(server.client_addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut raw = Raw {
        stream,
        buf: BytesMut::new(),
        decoder: FrameDecoder::default(),
        next_xid: 1,
    };

    let mut out = BytesMut::new();
    write_connect_request(&mut out, &ConnectRequest::new_session(10_000));
    assert_eq!(out.len(), 4 + 45);
    raw.stream.write_all(&out).expect("write");
    let response = ConnectResponse::decode(&mut Reader::new(raw.frame())).expect("ConnectResponse");
    assert_eq!(response.timeout_ms, 10_000);
    assert_ne!(response.session_id, SessionId(0));
    assert_eq!(response.password.len(), 16);
    assert!(!response.read_only);

    let path = "/raw-protocol";
    let (header, created) = raw.call(Request::Create2(CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"payload")),
        acl: Acl::OPEN_UNSAFE.into(),
        flags: CreateMode::Persistent.flags(),
    }));
    let Ok(Response::Create2(created)) = created else {
        panic!("create2 failed: {created:?}")
    };
    assert_eq!(created.path, path);
    assert_eq!(created.stat.czxid, header.zxid);
    assert_eq!(created.stat.data_length, 7);

    let (_, child) = raw.call(Request::Create(CreateRequest {
        path: format!("{path}/child-"),
        data: Some(Bytes::new()),
        acl: Acl::OPEN_UNSAFE.into(),
        flags: CreateMode::EphemeralSequential.flags(),
    }));
    let Ok(Response::Create(child)) = child else {
        panic!("create failed: {child:?}")
    };
    assert_eq!(child.path, format!("{path}/child-0000000000"));

    let (_, data) = raw.call(Request::GetData(PathWatchRequest {
        path: path.into(),
        watch: false,
    }));
    let Ok(Response::GetData(data)) = data else {
        panic!("getData failed: {data:?}")
    };
    assert_eq!(data.data.as_deref(), Some(&b"payload"[..]));
    assert_eq!(data.stat.num_children, 1);

    let (_, children) = raw.call(Request::GetChildren2(PathWatchRequest {
        path: path.into(),
        watch: false,
    }));
    let Ok(Response::GetChildren2(children)) = children else {
        panic!("getChildren2 failed: {children:?}")
    };
    assert_eq!(children.children, ["child-0000000000"]);

    let (_, not_empty) = raw.call(Request::Delete(DeleteRequest {
        path: path.into(),
        version: -1,
    }));
    assert_eq!(not_empty, Err(ErrorCode::NotEmpty));
    let (_, deleted) = raw.call(Request::Delete(DeleteRequest {
        path: child.path.clone(),
        version: -1,
    }));
    assert_eq!(deleted, Ok(Response::Empty));
    let (_, bad_version) = raw.call(Request::Delete(DeleteRequest {
        path: path.into(),
        version: 7,
    }));
    assert_eq!(bad_version, Err(ErrorCode::BadVersion));
    let (_, deleted) = raw.call(Request::Delete(DeleteRequest {
        path: path.into(),
        version: 0,
    }));
    assert_eq!(deleted, Ok(Response::Empty));
    let (_, gone) = raw.call(Request::Exists(PathWatchRequest {
        path: path.into(),
        watch: false,
    }));
    assert_eq!(gone, Err(ErrorCode::NoNode));

    let (_, closed) = raw.call(Request::CloseSession);
    assert_eq!(closed, Ok(Response::Empty));
}
