//! A TCP proxy on loopback between clients and a real server that can lose one reply: armed,
//! it lets the next create request through to the server, and when the server's reply to it
//! comes back, cuts the connection instead of forwarding it. The server has applied the create;
//! the client sees ConnectionLoss: exactly the case protected creates are for.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

/// The opcodes of creates: create, create2, createContainer, createTTL.
const CREATE_OPCODES: [i32; 4] = [1, 15, 19, 21];

/// No xid recorded.
const NONE: i32 = i32::MIN;

#[derive(Debug, Default)]
struct State {
    /// Lose the reply to the next create.
    armed: AtomicBool,
    /// The xid whose reply is to be lost.
    doomed_xid: AtomicI32,
    /// Replies lost so far.
    lost: AtomicUsize,
    stop: AtomicBool,
}

/// The proxy (see the module docs); stops accepting when dropped.
#[derive(Debug)]
pub struct ReplyCutter {
    addr: SocketAddr,
    state: Arc<State>,
}

impl ReplyCutter {
    /// A proxy to `server` on a free loopback port.
    pub fn start(server: SocketAddr) -> io::Result<ReplyCutter> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            doomed_xid: AtomicI32::new(NONE),
            ..State::default()
        });
        let shared = state.clone();
        thread::Builder::new()
            .name("reply-cutter".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(upstream) = TcpStream::connect(server) else {
                        continue;
                    };
                    relay(client, upstream, shared.clone());
                }
            })?;
        Ok(ReplyCutter { addr, state })
    }

    /// The connect string of the proxy.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// Loses the reply to the next create that goes through.
    pub fn lose_next_create_reply(&self) {
        self.state.doomed_xid.store(NONE, Ordering::SeqCst);
        self.state.armed.store(true, Ordering::SeqCst);
    }

    /// How many replies were lost.
    pub fn replies_lost(&self) -> usize {
        self.state.lost.load(Ordering::SeqCst)
    }
}

impl Drop for ReplyCutter {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads one length-prefixed frame into `frame` (without the length); `false` at the end.
fn read_frame(from: &mut TcpStream, frame: &mut Vec<u8>) -> bool {
    let mut len = [0u8; 4];
    if from.read_exact(&mut len).is_err() {
        return false;
    }
    let Ok(len) = usize::try_from(i32::from_be_bytes(len)) else {
        return false;
    };
    frame.resize(len, 0);
    from.read_exact(frame).is_ok()
}

fn write_frame(to: &mut TcpStream, frame: &[u8]) -> bool {
    let Ok(len) = i32::try_from(frame.len()) else {
        return false;
    };
    to.write_all(&len.to_be_bytes()).is_ok() && to.write_all(frame).is_ok()
}

fn int(frame: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(frame.get(at..at + 4)?.try_into().ok()?))
}

/// Relays one connection, frame by frame, in two threads.
fn relay(client: TcpStream, upstream: TcpStream, state: Arc<State>) {
    let (Ok(mut client_in), Ok(mut upstream_out)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let requests = state.clone();
    let _ = thread::Builder::new()
        .name("cutter-requests".into())
        .spawn(move || {
            let mut frame = Vec::new();
            // The ConnectRequest has no request header.
            let mut handshake = true;
            while read_frame(&mut client_in, &mut frame) {
                if !handshake
                    && requests.armed.load(Ordering::SeqCst)
                    && int(&frame, 4).is_some_and(|op| CREATE_OPCODES.contains(&op))
                {
                    requests.armed.store(false, Ordering::SeqCst);
                    requests
                        .doomed_xid
                        .store(int(&frame, 0).unwrap_or(NONE), Ordering::SeqCst);
                }
                handshake = false;
                if !write_frame(&mut upstream_out, &frame) {
                    break;
                }
            }
            let _ = upstream_out.shutdown(Shutdown::Both);
        });
    let (mut upstream_in, mut client_out) = (upstream, client);
    let _ = thread::Builder::new()
        .name("cutter-replies".into())
        .spawn(move || {
            let mut frame = Vec::new();
            let mut handshake = true;
            while read_frame(&mut upstream_in, &mut frame) {
                let xid = int(&frame, 0);
                if !handshake
                    && xid.is_some()
                    && xid == Some(state.doomed_xid.load(Ordering::SeqCst))
                {
                    // Applied by the server, never seen by the client.
                    state.doomed_xid.store(NONE, Ordering::SeqCst);
                    state.lost.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                handshake = false;
                if !write_frame(&mut client_out, &frame) {
                    break;
                }
            }
            let _ = client_out.shutdown(Shutdown::Both);
            let _ = upstream_in.shutdown(Shutdown::Both);
        });
}
