//! The background I/O thread and the write path.
//!
//! One thread per session answers the session's actions, fires its timers and reads the socket
//! (with read timeouts taken from the session's next deadline, at most a second), except while
//! callers read it themselves: a caller waiting alone for its reply reads
//! the socket on its own thread, so the reply needs no hand-over between threads, and the I/O
//! thread then only wakes every [`GRACE`] for the timers until callers have been quiet that
//! long. With several callers waiting, the I/O thread reads for all of them. (One reader, the
//! I/O thread alone, cost 23% more CPU per pipelined getData and 30% more per call made one at
//! a time, pinned: the README has the measurement.) Writes happen on whichever thread has
//! something to send: a caller about to block on its reply (or flushing, or dropping a
//! submitted call), or, when a turn of the I/O thread left the session with frames, a writer
//! thread it wakes. The I/O thread never writes itself: a write blocks while the server does
//! not read, and a server stops reading while its replies are not read, so a thread that both
//! reads and writes can wait on itself when no caller reads. Each write takes every frame
//! ready, so requests submitted together share one. A mutex keeps
//! frames whole and in order, with a bounded wait per write. Neither side knows anything of the
//! protocol: that is the session's. Connection attempts and read-only probes run on
//! short-lived threads of their own, so that a host that does not answer never holds the
//! timers up; which addresses they try, in which order, and what they report is zk-client's
//! [`Attempt`], as for the async adapters.
//!
//! A connection is plain TCP or, with the `tls` feature and TLS options, TLS over TCP (see
//! [`crate::tls`]): the handshake runs on the attempt's thread, right after the TCP connect and
//! before the session learns that the connection is open, so nothing of the session goes out
//! unencrypted.

use std::future::Future;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use zk_client::adapter::{Attempt, Shared, PROBE_STEP_TIMEOUT};
use zk_client::session::probe::Answer;
use zk_client::session::{Action, ConnectionId, Session};
use zk_client::HostAddr;

/// Longest single wait of the I/O thread, so it notices work even without a deadline.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// While callers read the socket themselves, the I/O thread checks this often for timers and for
/// the end of their activity.
const GRACE: Duration = Duration::from_millis(2);
/// Longest sleep of the I/O thread while one caller keeps reading.
const BUSY_PARK_MAX: Duration = Duration::from_millis(8);
/// Longest single read by a caller, so that it re-checks its own deadline.
const CALLER_READ_MAX: Duration = Duration::from_millis(100);
/// Bound on one write: a server that stops reading for this long is treated as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const READ_CHUNK: usize = 64 * 1024;

/// Locks `m`, whether or not a thread panicked while holding it (every holder leaves the data
/// consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How connections are opened: plain TCP, or TLS with these settings.
#[derive(Clone, Default)]
pub(crate) struct Connector {
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<zk_client::tls::TlsSetup>,
}

impl Connector {
    /// Plain TCP.
    pub(crate) const PLAIN: Connector = Connector {
        #[cfg(feature = "tls")]
        tls: None,
    };
}

/// The read half of a connection, read by whoever holds [`Io`]'s reader (see the module docs).
enum ReadHalf {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(TcpStream, crate::tls::TlsReader),
}

impl ReadHalf {
    fn stream(&self) -> &TcpStream {
        match self {
            ReadHalf::Plain(stream) => stream,
            #[cfg(feature = "tls")]
            ReadHalf::Tls(stream, _) => stream,
        }
    }
}

/// Capacity a writer's buffer may keep once written: steady traffic (up to this much per
/// write) reuses it, while a burst of large requests leaves no lasting heap.
const KEPT_WRITE_CAPACITY: usize = 1 << 20;

/// The write half of a connection, shared by the writers under [`Io`]'s mutex.
enum WriteHalf {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(TcpStream, crate::tls::TlsWriter),
}

impl WriteHalf {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            WriteHalf::Plain(stream) => stream.write_all(data),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(stream, tls) => tls.write_all(stream, data),
        }
    }

    fn stream(&self) -> &TcpStream {
        match self {
            WriteHalf::Plain(stream) => stream,
            #[cfg(feature = "tls")]
            WriteHalf::Tls(stream, _) => stream,
        }
    }
}

/// Both sides of a new connection.
type Halves = (ReadHalf, WriteHalf);

/// The write side of the current connection.
struct Writer {
    conn: ConnectionId,
    half: WriteHalf,
    out: Vec<u8>,
}

/// The read side of the current connection, with its buffer: read by the I/O thread, or by a
/// caller waiting alone for its reply.
struct Reader {
    half: Option<(ConnectionId, ReadHalf)>,
    /// The read timeout last set on the socket, so that it is set only when it changes.
    read_timeout: Option<(ConnectionId, Duration)>,
    buf: Vec<u8>,
}

/// What callers and the I/O thread share.
pub(crate) struct Io {
    shared: Arc<Shared>,
    writer: Mutex<Option<Writer>>,
    reader: Mutex<Reader>,
    /// Callers blocked waiting for a reply.
    waiting: AtomicUsize,
    /// Bumped each time a waiting caller reads or wants to read the socket: while it moves, the
    /// I/O thread leaves the socket to the callers.
    caller_activity: AtomicU64,
    /// The I/O thread, to wake it when a reading caller leaves other callers waiting.
    io_thread: OnceLock<std::thread::Thread>,
    /// Frames may be ready to write: set by every [`Io::flush`], cleared by the flushing thread
    /// just before it takes the session's frames.
    flush_wanted: AtomicBool,
    /// A thread is flushing.
    flushing: AtomicBool,
    /// The writer thread, which flushes for the I/O thread.
    writer_thread: OnceLock<std::thread::Thread>,
    /// The session is over: the writer thread ends.
    ended: AtomicBool,
    /// Reading made the TLS layer queue records of its own: the writer thread sends them.
    #[cfg(feature = "tls")]
    tls_wanted: AtomicBool,
    /// The current connection's socket, to shut it down without waiting for a writer blocked on
    /// a server that does not read, or a caller reading.
    socket: Mutex<Option<(ConnectionId, TcpStream)>>,
    /// Connection attempts that ended (on threads of their own), for the I/O thread to install
    /// or discard.
    opened: Mutex<Vec<(ConnectionId, io::Result<Halves>)>>,
}

impl Io {
    pub(crate) fn new(shared: Arc<Shared>) -> Arc<Io> {
        Arc::new(Io {
            shared,
            writer: Mutex::new(None),
            reader: Mutex::new(Reader {
                half: None,
                read_timeout: None,
                buf: vec![0u8; READ_CHUNK],
            }),
            waiting: AtomicUsize::new(0),
            caller_activity: AtomicU64::new(0),
            io_thread: OnceLock::new(),
            flush_wanted: AtomicBool::new(false),
            flushing: AtomicBool::new(false),
            writer_thread: OnceLock::new(),
            ended: AtomicBool::new(false),
            #[cfg(feature = "tls")]
            tls_wanted: AtomicBool::new(false),
            socket: Mutex::new(None),
            opened: Mutex::new(Vec::new()),
        })
    }

    fn writer(&self) -> MutexGuard<'_, Option<Writer>> {
        lock(&self.writer)
    }

    /// Sees that every frame the session has ready for the current connection is written:
    /// writes them, or leaves them to the thread already flushing.
    ///
    /// Many threads call this at once when many calls are in flight. Rather than queue on the
    /// writer's mutex for a write each, a caller that finds a flush under way only asks for one
    /// more and returns; the flushing thread takes every frame ready (in session order, as
    /// before) into one write, and repeats while asked. The flag protocol (all `SeqCst`): a
    /// caller raises `flush_wanted` before trying to become the flusher; the flusher lowers
    /// `flushing`, then reads `flush_wanted` again; so a request raised while `flushing` was
    /// seen set is always either served by that flusher or picked up by its caller.
    pub(crate) fn flush(&self) {
        /// Lowers `flushing` when the flusher is done, even by a panic.
        struct Flushing<'a>(&'a AtomicBool);
        impl Drop for Flushing<'_> {
            fn drop(&mut self) {
                self.0.store(false, SeqCst);
            }
        }

        self.flush_wanted.store(true, SeqCst);
        while self
            .flushing
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_ok()
        {
            let flushing = Flushing(&self.flushing);
            while self.flush_wanted.swap(false, SeqCst) {
                self.write_ready();
            }
            drop(flushing);
            if !self.flush_wanted.load(SeqCst) {
                break;
            }
        }
    }

    /// Has the frames the session has ready written on another thread than the caller's: by
    /// the thread flushing now, or by the writer thread (see the module docs).
    fn flush_elsewhere(&self) {
        self.flush_wanted.store(true, SeqCst);
        if !self.flushing.load(SeqCst) {
            if let Some(writer) = self.writer_thread.get() {
                writer.unpark();
            }
        }
    }

    /// The writer thread: flushes whenever the I/O thread asks, until the session ends.
    pub(crate) fn run_writer(&self) {
        let _ = self.writer_thread.set(std::thread::current());
        while !self.ended.load(SeqCst) {
            #[cfg(feature = "tls")]
            let tls = self.tls_wanted.swap(false, SeqCst);
            if self.flush_wanted.load(SeqCst) {
                self.flush();
            }
            // What the TLS layer queued on its own (an answer to the server's records).
            #[cfg(feature = "tls")]
            if tls {
                self.flush_tls();
            }
            std::thread::park();
        }
    }

    /// Has the records the TLS layer queued on its own sent by the writer thread.
    #[cfg(feature = "tls")]
    fn flush_tls_elsewhere(&self) {
        self.tls_wanted.store(true, SeqCst);
        if let Some(writer) = self.writer_thread.get() {
            writer.unpark();
        }
    }

    /// Ends the writer thread.
    pub(crate) fn end_writer(&self) {
        self.ended.store(true, SeqCst);
        if let Some(writer) = self.writer_thread.get() {
            writer.unpark();
        }
    }

    /// Writes every frame the session has ready for the current connection.
    fn write_ready(&self) {
        let mut guard = self.writer();
        let Some(writer) = guard.as_mut() else {
            return;
        };
        let now = self.shared.now();
        let conn = writer.conn;
        let out = &mut writer.out;
        out.clear();
        self.shared.with_session(|s| {
            if s.connection() == Some(conn) {
                s.poll_transmit(now, out);
            }
        });
        if writer.out.is_empty() {
            return;
        }
        if let Err(e) = writer.half.write_all(&writer.out) {
            self.write_failed(guard, conn, e);
            return;
        }
        writer.out.clear();
        writer.out.shrink_to(KEPT_WRITE_CAPACITY);
    }

    /// Sends what the TLS layer queued on its own (the writer thread calls it when reading made
    /// rustls want to answer).
    #[cfg(feature = "tls")]
    fn flush_tls(&self) {
        let mut guard = self.writer();
        let Some(writer) = guard.as_mut() else {
            return;
        };
        let conn = writer.conn;
        if let Err(e) = writer.half.write_all(&[]) {
            self.write_failed(guard, conn, e);
        }
    }

    fn write_failed(
        &self,
        mut guard: MutexGuard<'_, Option<Writer>>,
        conn: ConnectionId,
        error: std::io::Error,
    ) {
        if let Some(writer) = guard.take() {
            let _ = writer.half.stream().shutdown(Shutdown::Both);
        }
        drop(guard);
        let now = self.shared.now();
        let cause = format!("writing failed: {error}");
        self.shared
            .with_session(|s| s.handle_failed(conn, cause, now));
    }

    fn set_writer(&self, writer: Option<Writer>) {
        *self.writer() = writer;
    }

    fn reader(&self) -> MutexGuard<'_, Reader> {
        lock(&self.reader)
    }

    /// Writes what was submitted, then blocks on `call` (see [`Io::wait_for`]). Each time
    /// `backstop` passes without a result, it fires the session's timers itself, in case the
    /// I/O thread has stopped doing so: the session then ends a call past its deadline with
    /// `RequestTimeout`, as it would have.
    pub(crate) fn call<F: Future>(&self, call: F, backstop: Option<Duration>) -> F::Output {
        self.flush();
        let mut call = pin!(call);
        loop {
            if let Some(out) = self.wait_for(call.as_mut(), backstop) {
                return out;
            }
            let now = self.shared.now();
            self.shared.with_session(|s| s.handle_timeout(now));
            // Whatever the timers asked for (a reconnection, say) is the I/O thread's to do.
            self.shared.signal.notify();
        }
    }

    /// Blocks on `call` like [`zk_client::adapter::block_on`]; while this caller is the only one
    /// waiting and nobody else reads, it reads the socket itself, so its reply needs no
    /// hand-over from the I/O thread.
    pub(crate) fn wait_for<F: Future>(
        &self,
        call: F,
        timeout: Option<Duration>,
    ) -> Option<F::Output> {
        /// Leaves the count of waiting callers; wakes the I/O thread to read for those left.
        struct Waiting<'a>(&'a Io);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                if self.0.waiting.fetch_sub(1, SeqCst) > 1 {
                    if let Some(thread) = self.0.io_thread.get() {
                        thread.unpark();
                    }
                }
            }
        }
        self.waiting.fetch_add(1, SeqCst);
        let _waiting = Waiting(self);
        zk_client::adapter::block_on_with(call, timeout, |left| self.read_for_caller(left))
    }

    /// One read by a waiting caller, when it is the only one waiting and the socket is free.
    /// Returns whether it read (the caller then checks its reply again at once).
    fn read_for_caller(&self, left: Option<Duration>) -> bool {
        // A lone caller that wants to read counts as active even when the I/O thread holds the
        // socket at this moment: the I/O thread then backs off at its next wait and leaves it
        // the socket, rather than handing it every reply (measured: about 20% more CPU per
        // pipelined call when only callers that got the socket counted).
        self.caller_activity.fetch_add(1, SeqCst);
        if self.waiting.load(SeqCst) != 1 {
            return false;
        }
        let Ok(mut reader) = self.reader.try_lock() else {
            return false;
        };
        if reader.half.is_none() {
            return false;
        }
        let wait = left.map_or(CALLER_READ_MAX, |l| l.min(CALLER_READ_MAX));
        if wait.is_zero() {
            return false;
        }
        self.read_once(&mut reader, wait);
        true
    }

    /// Reads once (at most `wait`) and feeds what arrived to the session.
    fn read_once(&self, reader: &mut Reader, wait: Duration) {
        /// What the read asks for next.
        enum Next {
            Nothing,
            Closed,
            Failed(std::io::Error),
            #[cfg(feature = "tls")]
            FlushTls,
        }
        let Reader {
            half,
            read_timeout,
            buf,
        } = &mut *reader;
        let Some((conn, read_half)) = half.as_mut() else {
            return;
        };
        let conn = *conn;
        let mut stream = read_half.stream();
        let timeout = wait.max(Duration::from_millis(1));
        if *read_timeout != Some((conn, timeout)) && stream.set_read_timeout(Some(timeout)).is_ok()
        {
            *read_timeout = Some((conn, timeout));
        }
        let next = match stream.read(buf) {
            Ok(0) => Next::Closed,
            Ok(n) => match read_half {
                ReadHalf::Plain(_) => {
                    let now = self.shared.now();
                    let data = &buf[..n];
                    self.shared.with_session(|s| s.handle_data(conn, data, now));
                    Next::Nothing
                }
                #[cfg(feature = "tls")]
                ReadHalf::Tls(_, tls) => {
                    let decrypted = tls.decrypt(&buf[..n]);
                    if !decrypted.data.is_empty() {
                        let now = self.shared.now();
                        let data = decrypted.data;
                        self.shared.with_session(|s| s.handle_data(conn, data, now));
                    }
                    if decrypted.closed {
                        Next::Closed
                    } else if decrypted.wants_write {
                        Next::FlushTls
                    } else {
                        Next::Nothing
                    }
                }
            },
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Next::Nothing
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Next::Nothing,
            Err(e) => Next::Failed(e),
        };
        match next {
            Next::Nothing => {}
            Next::Closed => self.closed(reader, conn, None),
            Next::Failed(e) => self.closed(reader, conn, Some(format!("reading failed: {e}"))),
            #[cfg(feature = "tls")]
            Next::FlushTls => self.flush_tls_elsewhere(),
        }
    }

    /// The connection `conn` ended (because of `cause`, when known): drops both halves and
    /// tells the session.
    fn closed(&self, reader: &mut Reader, conn: ConnectionId, cause: Option<String>) {
        Self::drop_reader(reader);
        self.set_writer(None);
        let now = self.shared.now();
        self.shared.with_session(|s| match cause {
            Some(cause) => s.handle_failed(conn, cause, now),
            None => s.handle_closed(conn, now),
        });
    }

    fn drop_reader(reader: &mut Reader) {
        reader.read_timeout = None;
        if let Some((_, half)) = reader.half.take() {
            let _ = half.stream().shutdown(Shutdown::Both);
        }
    }

    /// Closes the current connection's socket (a caller blocked reading it returns at once) and
    /// drops both halves; only those of connection `conn` when given.
    fn disconnect(&self, conn: Option<ConnectionId>) {
        {
            // First the socket itself: a write blocked on it, or a read, returns at once, so the
            // locks below are free soon.
            let mut socket = lock(&self.socket);
            if conn.is_none() || socket.as_ref().map(|s| s.0) == conn {
                if let Some((_, socket)) = socket.take() {
                    let _ = socket.shutdown(Shutdown::Both);
                }
            }
        }
        {
            let mut writer = self.writer();
            if conn.is_none() || writer.as_ref().map(|w| w.conn) == conn {
                if let Some(writer) = writer.take() {
                    let _ = writer.half.stream().shutdown(Shutdown::Both);
                }
            }
        }
        let mut reader = self.reader();
        if conn.is_none() || reader.half.as_ref().map(|h| h.0) == conn {
            Self::drop_reader(&mut reader);
        }
    }
}

/// What one turn of the I/O thread learns from the session.
struct Turn {
    actions: Vec<Action>,
    deadline: Option<Instant>,
    connect_deadline: Option<Instant>,
    terminal: bool,
}

/// The I/O thread's own state.
pub(crate) struct IoThread {
    io: Arc<Io>,
    connector: Connector,
    /// The callers' activity as of the previous wait.
    caller_activity: u64,
    /// How long to sleep while a caller holds the socket (doubling up to [`BUSY_PARK_MAX`]).
    busy_park: Duration,
}

impl IoThread {
    pub(crate) fn new(io: Arc<Io>, connector: Connector) -> IoThread {
        IoThread {
            io,
            connector,
            caller_activity: 0,
            busy_park: GRACE,
        }
    }

    fn shared(&self) -> &Shared {
        &self.io.shared
    }

    /// Runs until the session ends.
    pub(crate) fn run(mut self) {
        /// However the thread ends (a panic included), no call may wait for it forever.
        struct Gone(Arc<Shared>);
        impl Drop for Gone {
            fn drop(&mut self) {
                self.0.driver_gone();
            }
        }
        let _gone = Gone(self.io.shared.clone());
        /// However the thread ends, the writer thread ends with it.
        struct EndWriter(Arc<Io>);
        impl Drop for EndWriter {
            fn drop(&mut self) {
                self.0.end_writer();
            }
        }
        let _end_writer = EndWriter(self.io.clone());
        let _ = self.io.io_thread.set(std::thread::current());
        loop {
            self.install_opened();
            // One visit to the session per turn: the timers due, then its outputs.
            let now = self.shared().now();
            let turn = self.shared().with_session(|s| {
                s.handle_timeout(now);
                let mut actions = Vec::new();
                while let Some(a) = s.poll_action() {
                    actions.push(a);
                }
                Turn {
                    actions,
                    deadline: s.poll_timeout(),
                    connect_deadline: s.connect_deadline(),
                    terminal: s.state().is_terminal(),
                }
            });
            let Turn {
                actions,
                deadline,
                connect_deadline,
                terminal,
            } = turn;
            // Asked once the turn's events are routed: routing may queue a watch removal.
            let transmit = self.shared().read_session(Session::has_transmit);
            let acted = !actions.is_empty();
            for action in actions {
                self.act(action, connect_deadline);
            }
            if transmit || acted {
                self.io.flush_elsewhere();
            }
            if terminal {
                self.disconnect_all();
                return;
            }
            if acted {
                continue;
            }
            self.wait(deadline, now);
        }
    }

    /// Carries out one action; `connect_deadline` bounds a connection attempt.
    fn act(&mut self, action: Action, connect_deadline: Option<Instant>) {
        match action {
            Action::Connect { conn, host } => {
                self.disconnect_all();
                let bound = connect_deadline
                    .map(|d| d.saturating_duration_since(Instant::now()))
                    .unwrap_or(MAX_WAIT)
                    .max(Duration::from_millis(1));
                // On a thread of its own: an attempt on an unresponsive host lasts up to the
                // connect timeout, and this thread must keep firing timers meanwhile (a close,
                // queued calls' deadlines, client-side expiry).
                let connector = self.connector.clone();
                let io = self.io.clone();
                let spawned =
                    std::thread::Builder::new()
                        .name("zk-connect".into())
                        .spawn(move || {
                            let opened = connector.open(&host, bound);
                            lock(&io.opened).push((conn, opened));
                            io.shared.signal.notify();
                        });
                if let Err(e) = spawned {
                    lock(&self.io.opened).push((conn, Err(e)));
                }
            }
            Action::Disconnect { conn } => self.io.disconnect(Some(conn)),
            Action::Probe { probe, host } => {
                // On a thread of its own: a probe of an unresponsive host takes seconds, and
                // this thread must keep reading and firing timers meanwhile.
                let connector = self.connector.clone();
                let shared = self.io.shared.clone();
                let spawned =
                    std::thread::Builder::new()
                        .name("zk-probe".into())
                        .spawn(move || {
                            let answer = connector.probe(&host);
                            let now = shared.now();
                            shared.with_session(|s| s.handle_probe_result(probe, answer, now));
                            shared.signal.notify();
                        });
                if spawned.is_err() {
                    // No thread: report the probe as failed, the session retries later.
                    let now = self.shared().now();
                    self.shared()
                        .with_session(|s| s.handle_probe_result(probe, Answer::Unknown, now));
                }
            }
            _ => {}
        }
    }

    fn disconnect_all(&mut self) {
        self.io.disconnect(None);
    }

    /// Hands the connections opened since the last turn to the session; one it no longer waits
    /// for (it timed out, or the session moved on) is closed.
    fn install_opened(&mut self) {
        let opened = std::mem::take(&mut *lock(&self.io.opened));
        for (conn, result) in opened {
            let now = self.shared().now();
            let wanted = |s: &Session| s.connection() == Some(conn);
            match result {
                Ok((read_half, write_half)) if self.shared().read_session(wanted) => {
                    self.io.set_writer(Some(Writer {
                        conn,
                        half: write_half,
                        out: Vec::new(),
                    }));
                    *lock(&self.io.socket) = read_half
                        .stream()
                        .try_clone()
                        .ok()
                        .map(|socket| (conn, socket));
                    let peer = read_half.stream().peer_addr().ok();
                    self.shared()
                        .with_session(|s| s.handle_connected(conn, peer, now));
                    // Readable only once the session knows the connection.
                    self.io.reader().half = Some((conn, read_half));
                }
                Ok((read_half, write_half)) => {
                    let _ = write_half.stream().shutdown(Shutdown::Both);
                    drop(read_half);
                }
                Err(e) => {
                    let cause = e.to_string();
                    self.shared()
                        .with_session(|s| s.handle_failed(conn, cause, now));
                }
            }
        }
    }

    /// Waits for input or the next deadline and feeds the input to the session (the next turn
    /// fires the timers that came due). While callers read the socket themselves, it only
    /// sleeps [`GRACE`] at a time, for the timers.
    fn wait(&mut self, deadline: Option<Instant>, now: Instant) {
        let wait = deadline
            .map(|d| d.saturating_duration_since(now))
            .unwrap_or(MAX_WAIT)
            .min(MAX_WAIT);
        let activity = self.io.caller_activity.load(SeqCst);
        let callers_active = std::mem::replace(&mut self.caller_activity, activity) != activity;
        if callers_active && self.io.waiting.load(SeqCst) <= 1 {
            // A lone caller reads for itself, or one is likely near: leave it the socket. (A
            // lone caller that found the socket taken counted as active too, so this wait
            // leaves it the socket; if it stopped wanting it, the next wait reads.)
            self.busy_park = GRACE;
            std::thread::park_timeout(wait.min(GRACE));
            return;
        }
        let mut reader = match self.io.reader.try_lock() {
            Ok(reader) => reader,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                // A caller reads (a slow reply, a frozen server): check less and less often,
                // never past the next deadline.
                std::thread::park_timeout(wait.min(self.busy_park));
                self.busy_park = (self.busy_park * 2).min(BUSY_PARK_MAX);
                return;
            }
        };
        self.busy_park = GRACE;
        if reader.half.is_none() {
            drop(reader);
            self.shared().signal.wait(wait);
        } else if !wait.is_zero() {
            self.io.read_once(&mut reader, wait);
        }
    }
}

impl Connector {
    /// Opens a connection to `host` within `bound`: TCP, then the TLS handshake if configured.
    fn open(&self, host: &HostAddr, bound: Duration) -> io::Result<Halves> {
        let deadline = Instant::now() + bound;
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut stream = connect(host, bound)?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let session = crate::tls::handshake(tls, &mut stream, &host.host, deadline)?;
            let write_half = stream.try_clone()?;
            write_half.set_write_timeout(Some(WRITE_TIMEOUT))?;
            let (reader, writer) = crate::tls::split(session);
            return Ok((
                ReadHalf::Tls(stream, reader),
                WriteHalf::Tls(write_half, writer),
            ));
        }
        let _ = deadline;
        let write_half = stream.try_clone()?;
        let _ = write_half.set_write_timeout(Some(WRITE_TIMEOUT));
        Ok((ReadHalf::Plain(stream), WriteHalf::Plain(write_half)))
    }

    /// Asks `host` whether it serves reads and writes (`isro`), within
    /// [`PROBE_STEP_TIMEOUT`] per step (connecting, then the exchange), as the async adapters do.
    fn probe(&self, host: &HostAddr) -> Answer {
        use zk_client::session::probe;
        const ANSWER: u64 = probe::ANSWER_LEN as u64;
        let bound = PROBE_STEP_TIMEOUT;
        let Ok(mut stream) = connect(host, bound) else {
            return Answer::Unknown;
        };
        let deadline = Instant::now() + bound;
        let _ = stream.set_read_timeout(Some(bound));
        let _ = stream.set_write_timeout(Some(bound));
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let Ok(mut session) = crate::tls::handshake(tls, &mut stream, &host.host, deadline)
            else {
                return Answer::Unknown;
            };
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            let _ = stream.set_read_timeout(Some(left));
            let _ = stream.set_write_timeout(Some(left));
            let answer = crate::tls::exchange(&mut session, &mut stream, probe::REQUEST, ANSWER);
            return Answer::parse(&answer);
        }
        let _ = deadline;
        if stream.write_all(probe::REQUEST).is_err() {
            return Answer::Unknown;
        }
        let mut answer = Vec::new();
        let _ = stream.take(ANSWER).read_to_end(&mut answer);
        Answer::parse(&answer)
    }
}

/// Opens a TCP connection to the first address of `host` that accepts, resolving the name now
/// (see [`Attempt`]), within `bound`.
fn connect(host: &HostAddr, bound: Duration) -> io::Result<TcpStream> {
    let started = Instant::now();
    let mut attempt = Attempt::new(host, (host.host.as_str(), host.port).to_socket_addrs());
    while let Some(addr) = attempt.next_address() {
        let left = bound.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(io::Error::new(ErrorKind::TimedOut, "connect timeout"));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => attempt.failed(e),
        }
    }
    Err(attempt.into_error())
}
