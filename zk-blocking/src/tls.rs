//! TLS over the blocking sockets, with rustls.
//!
//! A caller may send while another thread is blocked reading the same connection, so the TLS
//! state cannot live inside one blocking stream. Instead each connection keeps its two socket
//! halves, as plain TCP does, and one `rustls::ClientConnection` behind a mutex beside them:
//!
//! - the reader (the I/O thread) reads ciphertext from the socket without the lock, then takes
//!   it to feed rustls and drain the plaintext ([`TlsReader::decrypt`]);
//! - a writer (already serialised by the I/O layer's writer mutex) takes it to encrypt a chunk
//!   of plaintext into records, and sends them after releasing it ([`TlsWriter::write_all`]).
//!
//! The lock is therefore never held across a socket operation: a writer blocked on a slow
//! server cannot stop the reader from reading. Records reach the socket in the order they
//! were sealed, because only the (single) current writer sends them. The handshake runs before
//! either half exists, on the I/O thread, bounded by the connection attempt's deadline.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ClientConnection;
use zk_client::tls::TlsSetup;

use crate::io::lock;

/// Most ciphertext sealed per hold of the lock before it is sent.
const SEAL_CHUNK: usize = 64 * 1024;

/// Runs the TLS handshake on a fresh connection to `host` (as written in the connect string),
/// failing once `deadline` has passed. The socket's timeouts are left changed.
pub(crate) fn handshake(
    setup: &TlsSetup,
    stream: &mut TcpStream,
    host: &str,
    deadline: Instant,
) -> io::Result<ClientConnection> {
    let name = setup.server_name(host)?;
    let mut conn = ClientConnection::new(setup.config(), name).map_err(invalid_data)?;
    let left = || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(ErrorKind::TimedOut, "TLS handshake timeout"))
        } else {
            Ok(left.max(Duration::from_millis(1)))
        }
    };
    while conn.is_handshaking() {
        if conn.wants_write() {
            stream.set_write_timeout(Some(left()?))?;
            conn.write_tls(stream)?;
            continue;
        }
        stream.set_read_timeout(Some(left()?))?;
        if conn.read_tls(stream)? == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "connection closed during the TLS handshake",
            ));
        }
        if let Err(e) = conn.process_new_packets() {
            // Tell the server why (best effort), then give up on this connection.
            let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
            let _ = conn.write_tls(stream);
            return Err(invalid_data(e));
        }
    }
    // The last flight (TLS 1.3: the client's Finished).
    while conn.wants_write() {
        stream.set_write_timeout(Some(left()?))?;
        conn.write_tls(stream)?;
    }
    Ok(conn)
}

/// Splits a connection that finished its handshake into the reader's and the writers' sides.
pub(crate) fn split(conn: ClientConnection) -> (TlsReader, TlsWriter) {
    let conn = Arc::new(Mutex::new(conn));
    (
        TlsReader {
            conn: conn.clone(),
            plain: Vec::new(),
        },
        TlsWriter {
            conn,
            records: Vec::new(),
        },
    )
}

fn invalid_data(e: rustls::Error) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, e)
}

/// The reader's side: turns ciphertext into plaintext.
pub(crate) struct TlsReader {
    conn: Arc<Mutex<ClientConnection>>,
    plain: Vec<u8>,
}

/// What some ciphertext held.
pub(crate) struct Decrypted<'a> {
    /// The application data, possibly empty.
    pub(crate) data: &'a [u8],
    /// The connection is over after this data: the server closed it (close_notify), sent a
    /// fatal alert, or sent something rustls rejects.
    pub(crate) closed: bool,
    /// rustls has records to send in return (e.g. a key update): flush the writer.
    pub(crate) wants_write: bool,
}

impl TlsReader {
    /// Feeds `raw` bytes read from the socket to rustls, and takes out the plaintext.
    pub(crate) fn decrypt(&mut self, mut raw: &[u8]) -> Decrypted<'_> {
        self.plain.clear();
        let mut conn = lock(&self.conn);
        let mut closed = false;
        while !raw.is_empty() && !closed {
            // Reading from a slice fails only when rustls's buffer is full, which processing
            // after each read prevents; a failure is a lost connection all the same.
            if !matches!(conn.read_tls(&mut raw), Ok(n) if n > 0) {
                closed = true;
                break;
            }
            let Ok(state) = conn.process_new_packets() else {
                closed = true;
                break;
            };
            let len = state.plaintext_bytes_to_read();
            if len > 0 {
                let start = self.plain.len();
                self.plain.resize(start + len, 0);
                if conn.reader().read_exact(&mut self.plain[start..]).is_err() {
                    self.plain.truncate(start);
                    closed = true;
                }
            }
            closed |= state.peer_has_closed();
        }
        let wants_write = !closed && conn.wants_write();
        drop(conn);
        Decrypted {
            data: &self.plain,
            closed,
            wants_write,
        }
    }
}

/// The writers' side: turns plaintext into records and sends them.
pub(crate) struct TlsWriter {
    conn: Arc<Mutex<ClientConnection>>,
    records: Vec<u8>,
}

impl TlsWriter {
    /// Encrypts and sends all of `data` (which may be empty, to send only what rustls has
    /// queued on its own, such as a key update).
    pub(crate) fn write_all(&mut self, stream: &mut TcpStream, mut data: &[u8]) -> io::Result<()> {
        loop {
            self.records.clear();
            {
                let mut conn = lock(&self.conn);
                while !data.is_empty() && self.records.len() < SEAL_CHUNK {
                    let n = conn.writer().write(data)?;
                    data = &data[n..];
                    if n == 0 && !conn.wants_write() {
                        return Err(io::Error::new(
                            ErrorKind::BrokenPipe,
                            "TLS connection closed for writing",
                        ));
                    }
                    while conn.wants_write() {
                        conn.write_tls(&mut self.records)?;
                    }
                }
                while conn.wants_write() {
                    conn.write_tls(&mut self.records)?;
                }
            }
            if !self.records.is_empty() {
                stream.write_all(&self.records)?;
            }
            if data.is_empty() {
                return Ok(());
            }
        }
    }
}

/// Sends `request` and reads at most `limit` bytes of the answer, until the server closes the
/// connection: for four-letter words on a fresh connection.
pub(crate) fn exchange(
    conn: &mut ClientConnection,
    stream: &mut TcpStream,
    request: &[u8],
    limit: u64,
) -> Vec<u8> {
    let mut tls = rustls::Stream::new(conn, stream);
    let mut answer = Vec::new();
    if tls.write_all(request).and_then(|()| tls.flush()).is_ok() {
        // A server that closes without close_notify ends the read with an error, after the
        // answer.
        let _ = tls.take(limit).read_to_end(&mut answer);
    }
    answer
}
