//! [`FakeServer`]: a scripted stand-in for ZooKeeper on a loopback port, and [`Peer`], one
//! accepted connection as its script sees it.
//!
//! Every accepted connection runs the server's script on a thread of its own, with a [`Peer`]
//! that knows its connection index (0 for the first connection, 1 for the next, ...), so a
//! script can misbehave on the first connection and behave on the later ones. `Peer` speaks
//! the protocol with `zk-proto` (read the ConnectRequest, grant a session, read requests,
//! answer them, send notifications) and can write anything at all (raw bytes, slowly).
//!
//! Scripts are `Fn(&mut Peer) -> io::Result<()>` ([`FakeServer::scripted`]): a connection the
//! client dropped makes the next read or write fail, and the script ends quietly with that
//! error. Dropping the server stops accepting and shuts every open connection down, so no
//! script outlives its case for long.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_proto::{
    ConnectRequest, ConnectResponse, Create2Response, CreateResponse, Decode, Encode, ErrorCode,
    ErrorResponse, EventType, GetAclResponse, GetAllChildrenNumberResponse, GetChildren2Response,
    GetChildrenResponse, GetDataResponse, GetEphemeralsResponse, KeeperState, MultiResponse,
    OpCode, PathResponse, Reader, ReplyHeader, Request, RequestHeader, Response, SessionId, Stat,
    StatResponse, WhoAmIResponse, Xid, Zxid,
};

/// The password every session granted by [`Peer::accept_session`] gets (16 bytes, like a real
/// server's).
pub const PASSWORD: [u8; 16] = *b"hostile-password";

/// The zxid of every ordinary reply.
pub const ZXID: Zxid = Zxid(1);

/// The largest frame a script accepts from the client (the client never sends more than its
/// maximum frame length; this only bounds what a confused read allocates).
const MAX_CLIENT_FRAME: usize = 16 << 20;

/// How long [`Peer::close`] waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(2);

/// How long dropping a server waits for its scripts to end.
const SCRIPT_EXIT_WAIT: Duration = Duration::from_secs(3);

type Script = dyn Fn(Peer) + Send + Sync + 'static;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// What the acceptor, the scripts and the server handle share.
struct Shared {
    /// Set when the server is dropped.
    stop: AtomicBool,
    /// Notified (under `stop_lock`) when `stop` is set, for scripts waiting for it.
    stopped: Condvar,
    stop_lock: Mutex<()>,
    /// When each connection was accepted, by index.
    accepted: Mutex<Vec<Instant>>,
    /// A clone of every connection whose script still runs, to shut it down on drop.
    open: Mutex<HashMap<usize, TcpStream>>,
    /// Scripts still running.
    running: AtomicUsize,
}

/// Marks a script ended, also when it panics.
struct ScriptGuard {
    shared: Arc<Shared>,
    index: usize,
}

impl Drop for ScriptGuard {
    fn drop(&mut self) {
        lock(&self.shared.open).remove(&self.index);
        self.shared.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// When each connection of every server of this process was accepted, by server: the runner
/// checks the reconnection rate of every case from it ([`take_accepts`]).
static ACCEPTS: Mutex<Vec<(SocketAddr, Instant)>> = Mutex::new(Vec::new());

/// Takes the accept times recorded since the last call, grouped by server, in order.
pub fn take_accepts() -> Vec<Vec<Instant>> {
    let accepts = std::mem::take(&mut *lock(&ACCEPTS));
    let mut servers: Vec<(SocketAddr, Vec<Instant>)> = Vec::new();
    for (addr, at) in accepts {
        match servers.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, times)) => times.push(at),
            None => servers.push((addr, vec![at])),
        }
    }
    servers.into_iter().map(|(_, times)| times).collect()
}

/// A fake ZooKeeper server on `127.0.0.1` (a free port) that runs a script for every accepted
/// connection, each on its own thread. Dropping it stops accepting, shuts every open connection
/// down (so scripts blocked on the socket end) and waits a little for the scripts to end.
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .field("connections", &self.connections())
            .finish()
    }
}

impl FakeServer {
    /// Starts a server that hands every accepted connection to `script`, on a thread of its
    /// own.
    pub fn start(script: impl Fn(Peer) + Send + Sync + 'static) -> FakeServer {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port for the fake server");
        let addr = listener
            .local_addr()
            .expect("the fake server's local address");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            stopped: Condvar::new(),
            stop_lock: Mutex::new(()),
            accepted: Mutex::new(Vec::new()),
            open: Mutex::new(HashMap::new()),
            running: AtomicUsize::new(0),
        });
        let script: Arc<Script> = Arc::new(script);
        let acceptor = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("fake-zk-accept".into())
                .spawn(move || {
                    crate::hostile::measure::uncounted_thread();
                    accept_loop(listener, shared, script)
                })
                .expect("spawn the fake server's acceptor thread")
        };
        FakeServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Starts a server whose script works on the connection through `&mut Peer` and may fail:
    /// an error (usually the client having dropped the connection) ends the script quietly.
    pub fn scripted(
        script: impl Fn(&mut Peer) -> io::Result<()> + Send + Sync + 'static,
    ) -> FakeServer {
        FakeServer::start(move |mut peer| {
            let _ = script(&mut peer);
        })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:port`, for a client's connect string.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// When each connection was accepted, in order.
    pub fn accepted(&self) -> Vec<Instant> {
        lock(&self.shared.accepted).clone()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        lock(&self.shared.accepted).len()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            // Set before the lock is taken: a script that saw it unset waits, and is woken.
            let _stopping = lock(&self.shared.stop_lock);
            self.shared.stopped.notify_all();
        }
        // Wake the acceptor from its blocking accept: it sees the flag and ends.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(acceptor) = self.acceptor.take() {
            if woke {
                let _ = acceptor.join();
            }
        }
        for stream in lock(&self.shared.open).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + SCRIPT_EXIT_WAIT;
        while self.shared.running.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// How long the acceptor waits for a new connection's first bytes to tell a probe (`isro`)
/// from a client's handshake (which clients send at once).
const PROBE_SNIFF: Duration = Duration::from_millis(200);

/// Whether `stream` opens with the four-letter word `isro` (a client's probe). Looks at the
/// first bytes without taking them, for at most [`PROBE_SNIFF`].
fn is_probe(stream: &TcpStream) -> bool {
    let deadline = Instant::now() + PROBE_SNIFF;
    let mut first = [0u8; 4];
    let answer = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break false;
        }
        match stream.peek(&mut first) {
            Ok(4) => break &first == b"isro",
            // Fewer bytes so far (or a closed connection, 0): look again shortly.
            Ok(n) if n > 0 && first[..n] == b"isro"[..n] => thread::sleep(Duration::from_millis(1)),
            Ok(_) | Err(_) => break false,
        }
    };
    let _ = stream.set_read_timeout(None);
    answer
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, script: Arc<Script>) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) => {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                // Out of descriptors, or an aborted connection: try again shortly.
                thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        if is_probe(&stream) {
            // A client asking `isro` (why a handshake was closed): not one of the script's
            // connections. Closed unanswered, as a server that does not allow the command.
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        let now = Instant::now();
        if let Ok(addr) = listener.local_addr() {
            lock(&ACCEPTS).push((addr, now));
        }
        let index = {
            let mut accepted = lock(&shared.accepted);
            accepted.push(now);
            accepted.len() - 1
        };
        // Small writes (one byte at a time, a reply right after a request) go out at once.
        let _ = stream.set_nodelay(true);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.open).insert(index, clone);
        }
        shared.running.fetch_add(1, Ordering::SeqCst);
        let peer = Peer {
            stream,
            index,
            shared: shared.clone(),
        };
        let guard = ScriptGuard {
            shared: shared.clone(),
            index,
        };
        let script = script.clone();
        let spawned = thread::Builder::new()
            .name(format!("fake-zk-{index}"))
            .spawn(move || {
                crate::hostile::measure::uncounted_thread();
                let _guard = guard;
                (*script)(peer);
            });
        // A thread that could not start dropped its closure, and with it the guard, which
        // marked the script ended.
        drop(spawned);
    }
}

/// The session a well-behaved server grants: protocol 0, `timeout_ms`, `session_id`, the
/// 16-byte [`PASSWORD`], not read-only.
pub fn session_response(session_id: i64, timeout_ms: i32) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout_ms,
        session_id: SessionId(session_id),
        password: Bytes::from_static(&PASSWORD),
        read_only: false,
    }
}

/// A reply header's 16 bytes: xid, zxid, error code.
pub fn reply_header(xid: i32, zxid: i64, err: i32) -> [u8; 16] {
    let mut header = [0u8; 16];
    header[..4].copy_from_slice(&xid.to_be_bytes());
    header[4..12].copy_from_slice(&zxid.to_be_bytes());
    header[12..].copy_from_slice(&err.to_be_bytes());
    header
}

/// `body` as a frame: its length as a big-endian `i32`, then the body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A plausible successful reply body for a request with opcode `op` (empty data and lists,
/// default stats, `/` for paths).
pub fn ok_response_for(op: OpCode) -> Response {
    match op {
        OpCode::Create => Response::Create(CreateResponse { path: "/".into() }),
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            Response::Create2(Create2Response {
                path: "/".into(),
                stat: Stat::default(),
            })
        }
        OpCode::Exists | OpCode::SetData | OpCode::SetAcl => {
            Response::Stat(StatResponse::default())
        }
        OpCode::GetData | OpCode::Reconfig => Response::GetData(GetDataResponse::default()),
        OpCode::GetAcl => Response::GetAcl(GetAclResponse::default()),
        OpCode::GetChildren => Response::GetChildren(GetChildrenResponse::default()),
        OpCode::GetChildren2 => Response::GetChildren2(GetChildren2Response::default()),
        OpCode::Sync => Response::Sync(PathResponse { path: "/".into() }),
        OpCode::Multi | OpCode::MultiRead => Response::Multi(MultiResponse::default()),
        OpCode::GetEphemerals => Response::GetEphemerals(GetEphemeralsResponse::default()),
        OpCode::GetAllChildrenNumber => {
            Response::GetAllChildrenNumber(GetAllChildrenNumberResponse::default())
        }
        OpCode::WhoAmI => Response::WhoAmI(WhoAmIResponse::default()),
        OpCode::AddWatch => Response::AddWatch(ErrorResponse { err: ErrorCode::Ok }),
        // Delete, ping, auth, SetWatches(2), CheckWatches, RemoveWatches, closeSession...
        _ => Response::Empty,
    }
}

/// A plausible successful reply body for `request`: [`ok_response_for`] its opcode, with the
/// request's own path where the reply carries one (create, sync).
pub fn ok_response(request: &Request) -> Response {
    let path = match request {
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => Some(&r.path),
        Request::CreateTtl(r) => Some(&r.path),
        Request::Sync(r) => Some(&r.path),
        _ => None,
    };
    let mut response = ok_response_for(request.opcode());
    if let Some(path) = path {
        match &mut response {
            Response::Create(r) => r.path = path.clone(),
            Response::Create2(r) => r.path = path.clone(),
            Response::Sync(r) => r.path = path.clone(),
            _ => {}
        }
    }
    response
}

/// One accepted connection, as its script sees it.
pub struct Peer {
    stream: TcpStream,
    index: usize,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("index", &self.index).finish()
    }
}

impl Peer {
    /// The connection's index: 0 for the server's first connection, 1 for the next, ...
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether the server is being dropped.
    pub fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Reads one frame from the client: a big-endian `i32` length, then that many bytes.
    pub fn read_frame(&mut self) -> io::Result<Bytes> {
        let mut prefix = [0u8; 4];
        self.stream.read_exact(&mut prefix)?;
        let len = i32::from_be_bytes(prefix);
        if len < 0 || len as usize > MAX_CLIENT_FRAME {
            return Err(invalid(format!("the client sent a frame length of {len}")));
        }
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body)?;
        Ok(Bytes::from(body))
    }

    /// Reads the client's handshake.
    pub fn read_connect_request(&mut self) -> io::Result<ConnectRequest> {
        let frame = self.read_frame()?;
        ConnectRequest::decode(&mut Reader::new(frame))
            .map_err(|e| invalid(format!("bad ConnectRequest: {e}")))
    }

    /// Sends `response` as the handshake's answer.
    pub fn send_connect_response(&mut self, response: &ConnectResponse) -> io::Result<()> {
        let mut out = Vec::with_capacity(4 + response.encoded_len());
        zk_proto::write_frame(&mut out, response);
        self.write_raw(&out)
    }

    /// Grants the session `session_id` with a `timeout_ms` timeout (see [`session_response`]).
    pub fn accept_session(&mut self, session_id: i64, timeout_ms: i32) -> io::Result<()> {
        self.send_connect_response(&session_response(session_id, timeout_ms))
    }

    /// A normal handshake: reads the ConnectRequest (returned) and grants `session_id`.
    pub fn handshake(&mut self, session_id: i64, timeout_ms: i32) -> io::Result<ConnectRequest> {
        let request = self.read_connect_request()?;
        self.accept_session(session_id, timeout_ms)?;
        Ok(request)
    }

    /// Reads one request (pings included): its xid, opcode and body.
    pub fn read_request(&mut self) -> io::Result<(Xid, OpCode, Request)> {
        let frame = self.read_frame()?;
        let mut reader = Reader::new(frame);
        let header = RequestHeader::decode(&mut reader)
            .map_err(|e| invalid(format!("bad request header: {e}")))?;
        let op = OpCode::from_i32(header.op)
            .ok_or_else(|| invalid(format!("unknown opcode {}", header.op)))?;
        let request = Request::decode(op, &mut reader)
            .map_err(|e| invalid(format!("bad {op:?} request: {e}")))?;
        Ok((header.xid, op, request))
    }

    /// Reads the next request that is not a ping, answering the pings before it.
    pub fn read_call(&mut self) -> io::Result<(Xid, OpCode, Request)> {
        loop {
            let (xid, op, request) = self.read_request()?;
            if op == OpCode::Ping {
                self.reply_ok_for(xid, op)?;
                continue;
            }
            return Ok((xid, op, request));
        }
    }

    /// Reads the next request that is not a ping, leaving the pings before it unanswered.
    pub fn read_call_ignoring_pings(&mut self) -> io::Result<(Xid, OpCode, Request)> {
        loop {
            let (xid, op, request) = self.read_request()?;
            if op != OpCode::Ping {
                return Ok((xid, op, request));
            }
        }
    }

    /// Writes a reply frame: the header (`xid`, `zxid`, `err`), then `response` (written
    /// whatever `err` says).
    pub fn reply(
        &mut self,
        xid: Xid,
        zxid: Zxid,
        err: ErrorCode,
        response: &Response,
    ) -> io::Result<()> {
        let header = ReplyHeader { xid, zxid, err };
        let mut out = Vec::with_capacity(4 + 16 + response.encoded_len());
        zk_proto::write_reply(&mut out, &header, response);
        self.write_raw(&out)
    }

    /// Answers `xid` with a plausible success for `op` ([`ok_response_for`]); a ping with its
    /// bare header.
    pub fn reply_ok_for(&mut self, xid: Xid, op: OpCode) -> io::Result<()> {
        self.reply(xid, ZXID, ErrorCode::Ok, &ok_response_for(op))
    }

    /// Answers `xid` with a plausible success for `request` ([`ok_response`]).
    pub fn reply_ok_to(&mut self, xid: Xid, request: &Request) -> io::Result<()> {
        self.reply(xid, ZXID, ErrorCode::Ok, &ok_response(request))
    }

    /// Answers every request (pings included) with a plausible success, in order, until the
    /// client closes the connection.
    pub fn serve(&mut self) -> io::Result<()> {
        self.serve_with(|peer, xid, _, request| peer.reply_ok_to(xid, &request))
    }

    /// Answers every request normally until `stop` says yes to one, which is returned
    /// unanswered.
    pub fn serve_until(
        &mut self,
        mut stop: impl FnMut(Xid, OpCode, &Request) -> bool,
    ) -> io::Result<(Xid, OpCode, Request)> {
        loop {
            let (xid, op, request) = self.read_request()?;
            if stop(xid, op, &request) {
                return Ok((xid, op, request));
            }
            self.reply_ok_to(xid, &request)?;
        }
    }

    /// Hands every request (pings included) to `handle` until the client closes the
    /// connection; `handle` answers it, or not.
    pub fn serve_with(
        &mut self,
        mut handle: impl FnMut(&mut Peer, Xid, OpCode, Request) -> io::Result<()>,
    ) -> io::Result<()> {
        loop {
            let (xid, op, request) = match self.read_request() {
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            };
            handle(&mut *self, xid, op, request)?;
        }
    }

    /// Sends a watch notification (`SyncConnected`) of `event_type` for `path`.
    pub fn notify(&mut self, event_type: EventType, path: &str) -> io::Result<()> {
        self.notify_raw(event_type.as_i32(), path.as_bytes())
    }

    /// Sends a notification frame with a raw event type and raw path bytes, built in place:
    /// no copy of the path is made, however long it is.
    pub fn notify_raw(&mut self, event_type: i32, path: &[u8]) -> io::Result<()> {
        let len = 16 + 4 + 4 + 4 + path.len();
        let mut head = Vec::with_capacity(4 + 16 + 12);
        head.extend_from_slice(&(len as i32).to_be_bytes());
        head.extend_from_slice(&reply_header(Xid::NOTIFICATION.0, -1, 0));
        head.extend_from_slice(&event_type.to_be_bytes());
        head.extend_from_slice(&KeeperState::SyncConnected.as_i32().to_be_bytes());
        head.extend_from_slice(&(path.len() as i32).to_be_bytes());
        self.write_raw(&head)?;
        self.write_raw(path)
    }

    /// Writes `bytes` as they are.
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Writes `bytes` one at a time, `per_byte` apart; stops early when the connection or the
    /// server ends.
    pub fn write_slowly(&mut self, bytes: &[u8], per_byte: Duration) -> io::Result<()> {
        for &byte in bytes {
            if self.stopped() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "server stopped"));
            }
            self.write_raw(&[byte])?;
            thread::sleep(per_byte);
        }
        Ok(())
    }

    /// Stays silent: reads and discards whatever the client sends (pings included) until it
    /// closes the connection or the server stops.
    pub fn drain(&mut self) -> io::Result<()> {
        let mut sink = [0u8; 4096];
        loop {
            match self.stream.read(&mut sink) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Neither reads nor writes until the server stops: what the client sends piles up in the
    /// socket buffers until its writes block. The receive buffer is made as small as the
    /// system allows first, so that the client's send buffer is what fills.
    pub fn stall(&mut self) -> io::Result<()> {
        rustix::net::sockopt::set_socket_recv_buffer_size(&self.stream, 0)?;
        let mut waiting = lock(&self.shared.stop_lock);
        while !self.stopped() {
            waiting = self
                .shared
                .stopped
                .wait(waiting)
                .unwrap_or_else(|e| e.into_inner());
        }
        Ok(())
    }

    /// Closes the connection gracefully: everything written reaches the client before the
    /// end of stream (the client's unread requests are drained rather than answered with a
    /// reset), waiting at most a couple of seconds for the client to close its side.
    pub fn close(&mut self) -> io::Result<()> {
        let _ = self.stream.shutdown(Shutdown::Write);
        let _ = self.stream.set_read_timeout(Some(LINGER));
        let _ = self.drain();
        let _ = self.stream.shutdown(Shutdown::Both);
        Ok(())
    }

    /// Closes the connection at once, both ways.
    pub fn abort(&mut self) -> io::Result<()> {
        let _ = self.stream.shutdown(Shutdown::Both);
        Ok(())
    }
}
