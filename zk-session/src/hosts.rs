//! The host list: parsed from the connect string, shuffled once with the session's seed, then
//! walked round-robin, as the Java client's `StaticHostProvider` does.

use std::fmt;

use crate::rng::Rng;

/// One server address as written in the connect string: a host name or IP literal and a port.
///
/// Names are not resolved here: the driver resolves them on every connection attempt, so DNS
/// changes are seen.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HostAddr {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl HostAddr {
    /// An address from its parts.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        HostAddr {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The ordered host list and the position of the next attempt.
#[derive(Debug, Clone)]
pub(crate) struct HostList {
    hosts: Vec<HostAddr>,
    /// Index of the host of the current or last attempt.
    current: usize,
    /// Attempts made since the last successful handshake.
    attempts_since_success: usize,
}

impl HostList {
    /// A list shuffled with `rng`; `hosts` must not be empty.
    pub(crate) fn new(mut hosts: Vec<HostAddr>, rng: &mut Rng) -> Self {
        rng.shuffle(&mut hosts);
        HostList {
            current: hosts.len().saturating_sub(1),
            hosts,
            attempts_since_success: 0,
        }
    }

    /// A list in the given order, whose next attempt is `hosts[first]`; `hosts` must not be
    /// empty.
    pub(crate) fn ordered(hosts: Vec<HostAddr>, first: usize) -> Self {
        let len = hosts.len().max(1);
        HostList {
            current: (first % len + len - 1) % len,
            hosts,
            attempts_since_success: 0,
        }
    }

    /// The hosts, in order.
    pub(crate) fn all(&self) -> &[HostAddr] {
        &self.hosts
    }

    pub(crate) fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Moves to the next host and returns it with its index.
    pub(crate) fn next(&mut self) -> (usize, &HostAddr) {
        self.current = (self.current + 1) % self.hosts.len();
        self.attempts_since_success += 1;
        (self.current, &self.hosts[self.current])
    }

    /// Makes `index` the next host returned by [`HostList::next`].
    pub(crate) fn prefer(&mut self, index: usize) {
        if index < self.hosts.len() {
            self.current = (index + self.hosts.len() - 1) % self.hosts.len();
        }
    }

    /// Whether the attempt just started begins a new pass over the whole list (after the first).
    pub(crate) fn completed_pass(&self) -> bool {
        self.attempts_since_success > 0 && self.attempts_since_success % self.hosts.len() == 0
    }

    pub(crate) fn connected(&mut self) {
        self.attempts_since_success = 0;
    }

    pub(crate) fn current_index(&self) -> usize {
        self.current
    }

    pub(crate) fn get(&self, index: usize) -> &HostAddr {
        &self.hosts[index % self.hosts.len()]
    }
}
