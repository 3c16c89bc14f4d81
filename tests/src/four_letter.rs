//! ZooKeeper's four-letter words: tiny admin commands over the client port.
//!
//! A four-letter word is sent on a fresh TCP connection instead of a
//! ConnectRequest; the server writes its answer and closes the connection.
//! The harness uses `ruok` (`imok`), `srvr` (whose `Mode:` line tells the
//! server's role, see [`crate::mode`]) and `isro` (`rw`, `ro`, or `null`
//! while the server does not serve).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long [`four_letter_word`] waits for the connection and the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends the four-letter word `command` (e.g. `"srvr"`) to the server at
/// `addr` and returns its whole answer, waiting at most [`DEFAULT_TIMEOUT`].
///
/// A frozen (SIGSTOPped) server's kernel still accepts the connection, so
/// such a server shows as an error of kind [`io::ErrorKind::TimedOut`].
pub fn four_letter_word(addr: SocketAddr, command: &str) -> io::Result<String> {
    four_letter_word_with_timeout(addr, command, DEFAULT_TIMEOUT)
}

/// Like [`four_letter_word`], waiting at most `timeout` for the connection
/// and at most `timeout` for the whole answer.
pub fn four_letter_word_with_timeout(
    addr: SocketAddr,
    command: &str,
    timeout: Duration,
) -> io::Result<String> {
    if command.len() != 4 || !command.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a four-letter word: {command:?}"),
        ));
    }
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(command.as_bytes())?;
    let deadline = Instant::now() + timeout;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(addr, command));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out(addr, command));
            }
            // The server may reset the connection right after its answer.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && !answer.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(answer).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn timed_out(addr: SocketAddr, command: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no answer to {command:?} from {addr}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn rejects_what_is_not_a_four_letter_word() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for bad in ["", "ruo", "ruokk", "RUOK", "ru k"] {
            let err = four_letter_word(addr, bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn reads_the_answer_until_the_server_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut word = [0u8; 4];
            conn.read_exact(&mut word).unwrap();
            assert_eq!(&word, b"ruok");
            conn.write_all(b"imok").unwrap();
        });
        assert_eq!(four_letter_word(addr, "ruok").unwrap(), "imok");
        server.join().unwrap();
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let started = Instant::now();
        let err =
            four_letter_word_with_timeout(addr, "srvr", Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
    }
}
