//! One connection attempt to one host, as every adapter makes it: the host's name resolved
//! anew (so DNS changes are seen on each attempt), its addresses tried in the order resolution
//! gave them, and the last failure reported when none accepts. Adapters do the I/O; the order
//! and the outcome are decided here, once.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;

use zk_session::HostAddr;

/// The addresses of one host left to try, and the failure to report if none accepts.
#[derive(Debug)]
pub struct Attempt {
    /// The host's name, as written in the connect string.
    name: String,
    addrs: VecDeque<SocketAddr>,
    /// The address last handed out.
    current: Option<SocketAddr>,
    /// Why the attempt fails if no address is left to try.
    failure: io::Error,
}

impl Attempt {
    /// An attempt on `host`, from the outcome of resolving its name just now.
    pub fn new(
        host: &HostAddr,
        resolved: io::Result<impl IntoIterator<Item = SocketAddr>>,
    ) -> Attempt {
        match resolved {
            Ok(addrs) => Attempt {
                name: host.host.clone(),
                addrs: addrs.into_iter().collect(),
                current: None,
                failure: io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} resolved to no address"),
                ),
            },
            Err(e) => Attempt {
                name: host.host.clone(),
                addrs: VecDeque::new(),
                current: None,
                failure: io::Error::new(e.kind(), format!("failed to resolve {}: {e}", host.host)),
            },
        }
    }

    /// The next address to connect to; `None` when the attempt has failed.
    pub fn next_address(&mut self) -> Option<SocketAddr> {
        self.current = self.addrs.pop_front();
        self.current
    }

    /// Connecting to the address last returned failed with `error`. The failure names that
    /// address when the host was given by name.
    pub fn failed(&mut self, error: io::Error) {
        self.failure = match self.current {
            Some(addr) if addr.ip().to_string() != self.name => {
                io::Error::new(error.kind(), format!("connecting to {addr}: {error}"))
            }
            _ => error,
        };
    }

    /// The attempt's failure: the last address's, or the name resolution's.
    pub fn into_error(self) -> io::Error {
        self.failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostAddr {
        HostAddr {
            host: "zk.example".into(),
            port: 2181,
        }
    }

    #[test]
    fn addresses_are_tried_in_order_and_the_last_failure_is_reported() {
        let addrs = [
            SocketAddr::from(([127, 0, 0, 1], 1)),
            SocketAddr::from(([127, 0, 0, 2], 2)),
        ];
        let mut attempt = Attempt::new(&host(), Ok(addrs));
        assert_eq!(attempt.next_address(), Some(addrs[0]));
        attempt.failed(io::Error::new(io::ErrorKind::TimedOut, "first"));
        assert_eq!(attempt.next_address(), Some(addrs[1]));
        attempt.failed(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        assert_eq!(attempt.next_address(), None);
        let error = attempt.into_error();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(error.to_string(), "connecting to 127.0.0.2:2: refused");
        // A host given as an address is not named twice.
        let literal = HostAddr::new("127.0.0.1", 1);
        let mut attempt = Attempt::new(&literal, Ok([addrs[0]]));
        attempt.next_address();
        attempt.failed(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        assert_eq!(attempt.into_error().to_string(), "refused");
    }

    #[test]
    fn a_name_that_does_not_resolve_or_resolves_to_nothing_fails_with_why() {
        let failed = io::Error::other("no such host");
        let mut attempt = Attempt::new(&host(), Err::<Vec<SocketAddr>, _>(failed));
        assert_eq!(attempt.next_address(), None);
        assert_eq!(
            attempt.into_error().to_string(),
            "failed to resolve zk.example: no such host"
        );
        let mut attempt = Attempt::new(&host(), Ok(Vec::new()));
        assert_eq!(attempt.next_address(), None);
        assert_eq!(
            attempt.into_error().to_string(),
            "zk.example:2181 resolved to no address"
        );
    }
}
