//! The async I/O driver: one task per session that owns the transport, moves bytes and time
//! between the runtime and the session, and nothing else.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use zk_session::probe::Answer;
use zk_session::{Action, ConnectionId, ProbeId};

use crate::runtime::{ask_server, open, BoxFuture, Runtime, Transport};
use crate::shared::Shared;

/// Iterations of the driver loop before it yields to other tasks.
const BUDGET: usize = 32;
/// Size of the read buffer.
const READ_CHUNK: usize = 64 * 1024;
/// Capacity the write buffer may keep once written: steady traffic (up to this much per
/// write) reuses it, while a burst of large requests leaves no lasting heap.
const KEPT_WRITE_CAPACITY: usize = 1 << 20;

struct Connection<T> {
    id: ConnectionId,
    transport: T,
    /// Bytes to write, and how many of them are written.
    out: Vec<u8>,
    written: usize,
    needs_flush: bool,
}

/// A connection attempt's outcome: the transport and the address it reached.
type Opened<T> = io::Result<(T, SocketAddr)>;

/// The driver task of one session. It ends when the session reaches a terminal state.
pub struct Driver<R: Runtime> {
    shared: Arc<Shared>,
    runtime: R,
    connection: Option<Connection<R::Transport>>,
    connecting: Option<(ConnectionId, BoxFuture<Opened<R::Transport>>)>,
    probes: Vec<(ProbeId, BoxFuture<Answer>)>,
    sleep: Option<(Instant, Pin<Box<R::Sleep>>)>,
    read_buf: Box<[u8]>,
}

impl<R: Runtime> Driver<R> {
    /// A driver for the session in `shared`.
    pub fn new(shared: Arc<Shared>, runtime: R) -> Driver<R> {
        Driver {
            shared,
            runtime,
            connection: None,
            connecting: None,
            probes: Vec::new(),
            sleep: None,
            read_buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
        }
    }

    fn now(&self) -> Instant {
        self.runtime.now()
    }

    /// Takes the session's actions and frames. Returns the next deadline and whether the
    /// session is over.
    fn drain_session(&mut self, now: Instant) -> (Option<Instant>, bool) {
        let connection = &mut self.connection;
        let (actions, deadline, terminal) = self.shared.with_session(|s| {
            let mut actions = Vec::new();
            while let Some(a) = s.poll_action() {
                actions.push(a);
            }
            if let Some(c) = connection.as_mut() {
                if s.poll_transmit(now, &mut c.out) > 0 {
                    c.needs_flush = true;
                }
            }
            (actions, s.poll_timeout(), s.state().is_terminal())
        });
        for action in actions {
            match action {
                Action::Connect { conn, host } => {
                    self.connection = None;
                    self.connecting = Some((conn, Box::pin(open(self.runtime.clone(), host))));
                }
                Action::Disconnect { conn } => {
                    if self.connection.as_ref().map(|c| c.id) == Some(conn) {
                        self.connection = None;
                    }
                    if self.connecting.as_ref().map(|c| c.0) == Some(conn) {
                        self.connecting = None;
                    }
                }
                Action::Probe { probe, host } => {
                    // The session waits for one probe's answer at a time and ignores stale
                    // ones: drop an earlier probe still hanging on an unresponsive host.
                    self.probes.clear();
                    let fut = ask_server(self.runtime.clone(), host);
                    self.probes.push((probe, Box::pin(fut)));
                }
                _ => {}
            }
        }
        (deadline, terminal)
    }

    fn poll_connecting(&mut self, cx: &mut Context<'_>) -> bool {
        let Some((id, fut)) = self.connecting.as_mut() else {
            return false;
        };
        let id = *id;
        let Poll::Ready(result) = fut.as_mut().poll(cx) else {
            return false;
        };
        self.connecting = None;
        let now = self.now();
        match result {
            Ok((transport, peer)) => {
                self.connection = Some(Connection {
                    id,
                    transport,
                    out: Vec::new(),
                    written: 0,
                    needs_flush: false,
                });
                self.shared
                    .with_session(|s| s.handle_connected(id, Some(peer), now));
            }
            Err(e) => self
                .shared
                .with_session(|s| s.handle_failed(id, e.to_string(), now)),
        }
        true
    }

    fn poll_probes(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        let mut i = 0;
        while i < self.probes.len() {
            if let Poll::Ready(answer) = self.probes[i].1.as_mut().poll(cx) {
                let (probe, _) = self.probes.swap_remove(i);
                let now = self.now();
                self.shared
                    .with_session(|s| s.handle_probe_result(probe, answer, now));
                progressed = true;
            } else {
                i += 1;
            }
        }
        progressed
    }

    /// Writes what the session produced. Returns whether the session was given input (the
    /// connection failed). Writing alone gives the session nothing to react to, so it needs no
    /// further turn of the loop: what remains unwritten waits for the transport's wake-up, and
    /// new requests wake the driver through its signal, registered before the frames were taken
    /// (or, driven inline, are written by the next poll: see `InlineDriver`).
    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(c) = self.connection.as_mut() else {
            return false;
        };
        let mut failed: Option<Option<io::Error>> = None;
        while c.written < c.out.len() {
            match c.transport.poll_write(cx, &c.out[c.written..]) {
                Poll::Ready(Ok(0)) => {
                    failed = Some(None);
                    break;
                }
                Poll::Ready(Err(e)) => {
                    failed = Some(Some(e));
                    break;
                }
                Poll::Ready(Ok(n)) => c.written += n,
                Poll::Pending => break,
            }
        }
        if failed.is_none() && c.written == c.out.len() {
            c.out.clear();
            c.out.shrink_to(KEPT_WRITE_CAPACITY);
            c.written = 0;
            if c.needs_flush {
                match c.transport.poll_flush(cx) {
                    Poll::Ready(Ok(())) => c.needs_flush = false,
                    Poll::Ready(Err(e)) => failed = Some(Some(e)),
                    Poll::Pending => {}
                }
            }
        }
        if let Some(error) = failed {
            let id = c.id;
            self.connection = None;
            let now = self.now();
            self.shared.with_session(|s| match error {
                Some(e) => s.handle_failed(id, format!("writing failed: {e}"), now),
                None => s.handle_closed(id, now),
            });
            return true;
        }
        false
    }

    /// Reads what arrived and feeds it to the session, as of `now`.
    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Some(c) = self.connection.as_mut() else {
            return false;
        };
        let id = c.id;
        match c.transport.poll_read(cx, &mut self.read_buf) {
            Poll::Ready(Ok(0)) => {
                self.connection = None;
                self.shared.with_session(|s| s.handle_closed(id, now));
                true
            }
            Poll::Ready(Err(e)) => {
                self.connection = None;
                let cause = format!("reading failed: {e}");
                self.shared
                    .with_session(|s| s.handle_failed(id, cause, now));
                true
            }
            Poll::Ready(Ok(n)) => {
                let data = &self.read_buf[..n];
                self.shared.with_session(|s| s.handle_data(id, data, now));
                true
            }
            Poll::Pending => false,
        }
    }

    /// Fires the session's timers when due; otherwise keeps a sleep armed for the deadline.
    ///
    /// The deadline moves later on nearly every frame sent or received (the ping and read
    /// timers), so a sleep armed for an earlier deadline is kept rather than replaced: when it
    /// ends before the current deadline, a sleep for the current deadline is armed then. The
    /// session's timers fire exactly as if the sleep had been replaced each time, without a
    /// timer registration per frame.
    fn poll_timer(
        &mut self,
        cx: &mut Context<'_>,
        deadline: Option<Instant>,
        now: Instant,
    ) -> bool {
        let Some(deadline) = deadline else {
            self.sleep = None;
            return false;
        };
        if now >= deadline {
            self.shared.with_session(|s| s.handle_timeout(now));
            return true;
        }
        if !matches!(&self.sleep, Some((armed, _)) if *armed <= deadline) {
            self.sleep = Some((deadline, Box::pin(self.runtime.sleep_until(deadline))));
        }
        while let Some((armed, sleep)) = self.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            if *armed == deadline {
                self.sleep = None;
                let now = self.now();
                self.shared.with_session(|s| s.handle_timeout(now));
                return true;
            }
            // An earlier deadline's sleep ended: sleep until the current one.
            self.sleep = Some((deadline, Box::pin(self.runtime.sleep_until(deadline))));
        }
        false
    }
}

// Nothing in the driver is pinned in place: its futures are boxed.
impl<R: Runtime> Unpin for Driver<R> {}

impl<R: Runtime> Future for Driver<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..BUDGET {
            this.shared.signal.register(cx.waker());
            // One clock read per pass: the inputs of a pass happen within microseconds.
            let now = this.now();
            let (deadline, terminal) = this.drain_session(now);
            let mut progressed = this.poll_write(cx);
            if terminal && this.connection.is_none() {
                return Poll::Ready(());
            }
            progressed |= this.poll_connecting(cx);
            progressed |= this.poll_probes(cx);
            progressed |= this.poll_read(cx, now);
            progressed |= this.poll_timer(cx, deadline, now);
            if terminal {
                // Nothing more will be written after the final frames.
                return Poll::Ready(());
            }
            if !progressed {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<R: Runtime> Drop for Driver<R> {
    fn drop(&mut self) {
        // The runtime dropped the task (for example at shutdown): no call may wait forever.
        self.shared.driver_gone();
    }
}
