//! Free loopback ports for the servers.
//!
//! Ports come from below the kernel's ephemeral range
//! (`/proc/sys/net/ipv4/ip_local_port_range`), so that the local end of an
//! outgoing connection (a client's, or a member's to its peers) never takes
//! the port of a member that is down and about to be restarted. A process
//! walks the range from a random start and hands out each port once;
//! parallel test processes start elsewhere and, should they still collide,
//! the start functions retry with fresh ports.

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Mutex;

/// The lowest port handed out.
const LOWEST: u16 = 10_000;

/// Used when the ephemeral range cannot be read.
const DEFAULT_EPHEMERAL_START: u16 = 32_768;

/// The ports of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberPorts {
    /// The server's `myid` (0 for a standalone server).
    pub id: u64,
    /// The port clients connect to.
    pub client: u16,
    /// The port followers connect to the leader on (quorum port).
    pub quorum: u16,
    /// The port of leader election.
    pub election: u16,
}

impl MemberPorts {
    /// Allocates three free ports for the server with `myid` `id`.
    pub fn allocate(id: u64) -> io::Result<Self> {
        Ok(Self {
            id,
            client: free_loopback_port()?,
            quorum: free_loopback_port()?,
            election: free_loopback_port()?,
        })
    }

    /// The client address, `127.0.0.1:<client>`.
    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.client))
    }
}

/// The next candidate port of this process; `None` until first used.
static NEXT: Mutex<Option<u16>> = Mutex::new(None);

/// Returns a port on 127.0.0.1 that nothing listens on and that this process
/// has not handed out before (until the range wraps around).
///
/// Also useful to tests that need an address where no server answers.
pub fn free_loopback_port() -> io::Result<u16> {
    let top = ephemeral_start();
    let span = top.saturating_sub(LOWEST).max(1);
    let mut next = NEXT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut candidate = next.unwrap_or_else(|| LOWEST + random_below(span));
    for _ in 0..span {
        let port = candidate;
        candidate = if port + 1 >= top { LOWEST } else { port + 1 };
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            *next = Some(candidate);
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no free loopback port in {LOWEST}..{top}"),
    ))
}

/// The first port of the kernel's ephemeral range.
fn ephemeral_start() -> u16 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .filter(|&start| start > LOWEST + 1000)
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

/// A number in `0..bound`, random per process (std's hash keys are seeded
/// from the operating system's randomness).
fn random_below(bound: u16) -> u16 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    // The remainder is below `bound`, so it fits in a u16.
    u16::try_from(hasher.finish() % u64::from(bound)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..20).map(|_| free_loopback_port().unwrap()).collect();
        let distinct: HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len());
        for port in ports {
            assert!((LOWEST..ephemeral_start()).contains(&port));
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        }
    }
}
