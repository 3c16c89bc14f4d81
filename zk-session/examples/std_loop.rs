//! Drives a `Session` from a plain single-threaded loop over `std::net::TcpStream`: no runtime,
//! no threads. Proof that any event loop can embed the core.
//!
//! Run against a server: `cargo run -p zk-session --example std_loop -- 127.0.0.1:2181`

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use zk_session::ops::{self, Operation};
use zk_session::proto::CreateMode;
use zk_session::{Action, Completion, Config, ConnectionId, Event, RequestId, Session};

/// The smallest possible driver: one optional socket, a write buffer, a read buffer.
struct Driver {
    session: Session,
    socket: Option<(ConnectionId, TcpStream)>,
    out: Vec<u8>,
    events: Vec<Event>,
}

impl Driver {
    /// Obeys actions, writes frames and collects events until there is nothing left to do.
    fn drain(&mut self) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Connect { conn, host } => {
                    // The session's connect timer bounds the attempt.
                    let timeout = self
                        .session
                        .connect_deadline()
                        .map_or(Duration::from_secs(5), |d| {
                            d.saturating_duration_since(Instant::now())
                        })
                        .max(Duration::from_millis(1));
                    let stream = (host.host.as_str(), host.port)
                        .to_socket_addrs()
                        .ok()
                        .into_iter()
                        .flatten()
                        .find_map(|addr| TcpStream::connect_timeout(&addr, timeout).ok());
                    match stream {
                        Some(stream) => {
                            let _ = stream.set_nodelay(true);
                            println!("connected to {host}");
                            let peer = stream.peer_addr().ok();
                            self.socket = Some((conn, stream));
                            self.session.handle_connected(conn, peer, Instant::now());
                        }
                        None => self.session.handle_closed(conn, Instant::now()),
                    }
                }
                Action::Disconnect { conn } if self.socket.as_ref().map(|s| s.0) == Some(conn) => {
                    self.socket = None;
                }
                // This example does not look for read-write servers.
                _ => {}
            }
        }
        self.out.clear();
        self.session.poll_transmit(Instant::now(), &mut self.out);
        if let Some((conn, stream)) = &mut self.socket {
            if !self.out.is_empty() && stream.write_all(&self.out).is_err() {
                let conn = *conn;
                self.session.handle_closed(conn, Instant::now());
                return self.drain();
            }
        }
        while let Some(event) = self.session.poll_event() {
            self.events.push(event);
        }
    }

    /// Waits for input or the next deadline, whichever comes first, and feeds it in.
    fn turn(&mut self) {
        self.drain();
        let now = Instant::now();
        let wait = self
            .session
            .poll_timeout()
            .map(|d| d.saturating_duration_since(now))
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(1));
        match &mut self.socket {
            Some((conn, stream)) => {
                let conn = *conn;
                let _ = stream.set_read_timeout(Some(wait));
                let mut buf = [0u8; 64 * 1024];
                match stream.read(&mut buf) {
                    Ok(0) => self.session.handle_closed(conn, Instant::now()),
                    Ok(n) => self.session.handle_data(conn, &buf[..n], Instant::now()),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => self.session.handle_closed(conn, Instant::now()),
                }
            }
            None => std::thread::sleep(wait),
        }
        self.session.handle_timeout(Instant::now());
        self.drain();
    }

    /// Runs the loop until the request `id` completes.
    fn wait_for(&mut self, id: RequestId) -> Completion {
        loop {
            if let Some(pos) = self
                .events
                .iter()
                .position(|e| matches!(e, Event::Completed(c) if c.id == id))
            {
                if let Event::Completed(c) = self.events.remove(pos) {
                    return c;
                }
            }
            self.turn();
        }
    }

    /// Submits `op` and runs the loop until its typed result is known.
    fn call<O: Operation>(&mut self, op: &O) -> (RequestId, Result<O::Output, O::Error>) {
        match self.session.submit(op, Instant::now()) {
            Ok(id) => {
                let done = self.wait_for(id);
                (id, op.complete(done.result))
            }
            Err(e) => panic!("submission refused: {e}"),
        }
    }
}

fn main() {
    let connect = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2181".to_owned());
    let mut config = Config::new(&connect).expect("a valid connect string");
    config.session_timeout = Duration::from_secs(10);
    let session = Session::new(config, Instant::now()).expect("a valid configuration");
    let mut driver = Driver {
        session,
        socket: None,
        out: Vec::new(),
        events: Vec::new(),
    };

    let path = format!("/std-loop-{}", std::process::id());
    let (_, created) =
        driver.call(&ops::Create::new(&path, &b"hello"[..]).mode(CreateMode::Ephemeral));
    println!("created {:?}", created.expect("create").path);
    println!("session {}", driver.session.session_id());

    let get = ops::GetData::new(&path).watch();
    let (watch_request, data) = driver.call(&get);
    let (data, stat) = data.expect("get_data");
    println!("read {:?} (version {})", data, stat.version);

    let (_, set) = driver.call(&ops::SetData::new(&path, &b"world"[..]));
    println!("wrote version {}", set.expect("set_data").version);

    // The watch left by get_data fires once, for the write above.
    let watch = watch_request.watch_id();
    loop {
        let fired = driver.events.iter().find_map(|e| match e {
            Event::Watch { watch: w, notice } if *w == watch => Some(notice.clone()),
            _ => None,
        });
        if let Some(notice) = fired {
            println!("watch fired: {notice:?}");
            break;
        }
        driver.turn();
    }

    let (_, deleted) = driver.call(&ops::Delete::new(&path));
    deleted.expect("delete");
    driver.session.close(Instant::now());
    while !driver.session.state().is_terminal() {
        driver.turn();
    }
    println!("session {:?}", driver.session.state());
}
