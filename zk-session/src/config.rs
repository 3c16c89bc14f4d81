//! Session configuration and the connect string.

use std::time::Duration;

use bytes::Bytes;
use zk_proto::{SessionId, DEFAULT_MAX_FRAME_LEN};

use crate::hosts::HostAddr;
use crate::path::{Chroot, PathError};

/// The port used when the connect string gives none.
pub const DEFAULT_PORT: u16 = 2181;

/// The smallest session timeout a server with default settings grants (twice its `tickTime`
/// of 2 s): it raises a smaller request to this. What to wait for a first session at least,
/// whatever was requested.
pub const SERVER_MIN_SESSION_TIMEOUT: Duration = Duration::from_secs(4);

/// The least time a connection attempt is given when its timeout is derived from the session
/// timeout (the Java rule: session timeout / number of hosts): a tiny requested timeout,
/// which the server would raise anyway, must not make every attempt fail.
pub const MIN_DERIVED_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The connect string names no host.
    #[error("the connect string names no host (expected host:port[,host:port...][/chroot])")]
    NoHosts,
    /// The connect string is a URL.
    #[error(
        "{input:?} is a URL, not a connect string: write host:port[,host:port...][/chroot], \
         without \"{scheme}://\""
    )]
    Url {
        /// The connect string as given.
        input: String,
        /// The URL's scheme.
        scheme: String,
    },
    /// A host entry is empty: two commas in a row, or a comma at either end.
    #[error(
        "host {position} of the connect string is empty (two commas in a row, or a comma at \
         an end)"
    )]
    EmptyHost {
        /// Its position in the list, from 1.
        position: usize,
    },
    /// A port is not a number from 1 to 65535.
    #[error("bad port {port:?} in {entry:?}: expected a number from 1 to 65535")]
    BadPort {
        /// The host entry.
        entry: String,
        /// The port as written.
        port: String,
    },
    /// An IPv6 address without brackets in a list of several hosts, or one whose last group
    /// could be taken for a port.
    #[error(
        "{entry:?}: an IPv6 address goes in brackets, with its port after them: \
         [address]:port (without brackets its last group could be a port)"
    )]
    UnbracketedIpv6 {
        /// The host entry.
        entry: String,
    },
    /// A host entry could not be parsed.
    #[error(
        "bad host {0:?} in the connect string (expected host, host:port, [ipv6] or \
         [ipv6]:port)"
    )]
    BadHost(String),
    /// The chroot is not a valid path.
    #[error("bad chroot: {0}")]
    BadChroot(#[from] PathError),
    /// A value is out of range.
    #[error("{0}")]
    OutOfRange(&'static str),
}

/// A parsed connect string: `host1:port1,host2:port2/chroot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// The servers, in the order written.
    pub hosts: Vec<HostAddr>,
    /// The chroot, if any.
    pub chroot: Chroot,
}

impl ConnectString {
    /// Parses `host1:port1,host2:port2/chroot`. Ports default to 2181; IPv6 literals are written
    /// in brackets (`[::1]:2181`), or bare without a port when they are the only host.
    ///
    /// Every mistake is refused here, with an error saying what was expected: a URL
    /// (`zk://...`), an empty entry (`a,,b`), a port outside 1-65535, an unbracketed IPv6
    /// address in a list (`a,::1:2181`), anything after a bracketed address but a port.
    pub fn parse(s: &str) -> Result<ConnectString, ConfigError> {
        let s = s.trim();
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(ConfigError::Url {
                input: s.to_owned(),
                scheme: scheme.to_owned(),
            });
        }
        let (hosts_part, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Chroot::new(&s[i..])?),
            None => (s, Chroot::none()),
        };
        if hosts_part.trim().is_empty() {
            return Err(ConfigError::NoHosts);
        }
        let entries: Vec<&str> = hosts_part.split(',').map(str::trim).collect();
        let several = entries.len() > 1;
        let mut hosts = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            if entry.is_empty() {
                return Err(ConfigError::EmptyHost { position: i + 1 });
            }
            hosts.push(parse_host(entry, several)?);
        }
        Ok(ConnectString { hosts, chroot })
    }
}

/// Parses one host entry; `in_list`: the connect string names several hosts.
fn parse_host(entry: &str, in_list: bool) -> Result<HostAddr, ConfigError> {
    let bad = || ConfigError::BadHost(entry.to_owned());
    let parse_port = |p: &str| {
        Some(p)
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| ConfigError::BadPort {
                entry: entry.to_owned(),
                port: p.to_owned(),
            })
    };
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        let port = match after {
            "" => DEFAULT_PORT,
            _ => parse_port(after.strip_prefix(':').ok_or_else(bad)?)?,
        };
        return Ok(HostAddr::new(host, port));
    }
    if entry.contains(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '@' | '?' | '#')) {
        return Err(bad());
    }
    match entry.matches(':').count() {
        0 => Ok(HostAddr::new(entry, DEFAULT_PORT)),
        1 => {
            let (host, port) = entry.split_once(':').ok_or_else(bad)?;
            if host.is_empty() {
                return Err(bad());
            }
            Ok(HostAddr::new(host, parse_port(port)?))
        }
        _ => {
            let is_ipv6 = |text: &str| text.parse::<std::net::Ipv6Addr>().is_ok();
            // Without brackets, an address's last group could be a port (Java reads it so):
            // `2001:db8::5:2181` is refused as ambiguous, alone or in a list.
            let port_split = entry
                .rsplit_once(':')
                .is_some_and(|(before, _)| is_ipv6(before));
            if port_split || (in_list && is_ipv6(entry)) {
                return Err(ConfigError::UnbracketedIpv6 {
                    entry: entry.to_owned(),
                });
            }
            if is_ipv6(entry) {
                // A bare IPv6 address, alone and unambiguous (`::1`, `fe80::1`).
                return Ok(HostAddr::new(entry, DEFAULT_PORT));
            }
            Err(bad())
        }
    }
}

/// The delays between connection attempts.
///
/// Before every attempt but the very first the session waits a random delay below
/// `max_jitter`; after each full pass over the host list without a lasting connection it waits
/// `pass_delay` more. A connection counts as lasting once it has stayed up for a read timeout
/// (2/3 of the negotiated session timeout): a server that accepts the session and drops it at
/// once, every time, is retried at most once per `pass_delay` per host, never in a tight loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// A random delay in `0..max_jitter` before every attempt but the very first (Java: 0-999 ms).
    pub max_jitter: Duration,
    /// An extra delay after each full pass over the host list without success (Java: 1 s).
    pub pass_delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            max_jitter: Duration::from_millis(1000),
            pass_delay: Duration::from_millis(1000),
        }
    }
}

/// Everything a [`crate::Session`] needs to know before it starts.
///
/// Build one with [`Config::new`] from a connect string, then adjust the public fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The servers to try.
    pub hosts: Vec<HostAddr>,
    /// Prepended to every path sent, stripped from every path received.
    pub chroot: Chroot,
    /// The session timeout to ask for; the server clamps it to its bounds and every timer uses
    /// the negotiated value. Default 30 s.
    pub session_timeout: Duration,
    /// Bound on one connection attempt, TCP connect and handshake together. `None` (default)
    /// means the Java rule: session timeout / number of hosts, but at least
    /// [`MIN_DERIVED_CONNECT_TIMEOUT`].
    pub connect_timeout: Option<Duration>,
    /// Whether a read-only server (partitioned from its quorum) may take the session.
    pub read_only_allowed: bool,
    /// Resume an existing session with its id and password instead of creating one.
    pub resume: Option<(SessionId, Bytes)>,
    /// Credentials (scheme, auth) presented on every connection, before anything else.
    pub auth: Vec<(String, Bytes)>,
    /// A SASL mechanism run on every connection, right after the handshake and before
    /// anything else ([`crate::sasl`]).
    pub sasl: Option<std::sync::Arc<dyn crate::sasl::SaslMechanism>>,
    /// Largest frame accepted from the server, and largest request sent. Default 0xfffff.
    pub max_frame_len: usize,
    /// Bound on requests submitted and not yet completed (queued or in flight; a request sent
    /// whose call timed out counts until its reply arrives or its connection ends). Default
    /// 1024.
    pub max_in_flight: usize,
    /// Declare the session expired locally when no server has confirmed it (completed a
    /// handshake, answered a request or ping, sent a watch event) for 4/3 of the negotiated
    /// timeout (the server has expired it by then). Default on.
    pub client_side_expiry: bool,
    /// Keep requests submitted while disconnected and send them after the next handshake
    /// (default), or fail them at once with connection loss.
    pub queue_while_disconnected: bool,
    /// How long a request may wait in the queue for a connection before it fails with
    /// connection loss. `None` (default) means the session timeout.
    pub queue_timeout: Option<Duration>,
    /// A deadline for every call, counted from its submission: a call not completed by then
    /// fails with [`crate::CommonError::RequestTimeout`] (it may still be applied). `None`
    /// (default, as in Java) means none; [`crate::Session::submit_with_deadline`] sets one per
    /// call.
    pub call_timeout: Option<Duration>,
    /// Delays between connection attempts.
    pub backoff: Backoff,
    /// How long `close` waits for the server's reply before declaring the session closed.
    /// Default 2 s.
    pub close_timeout: Duration,
    /// First and largest delay between read-write server probes while connected read-only
    /// (Java: 100 ms doubling to 60 s).
    pub read_only_probe: (Duration, Duration),
    /// Seed for host shuffling and jitter. Fresh for every [`Config::new`], so that clients
    /// sharing a connect string spread over its servers rather than all trying the same one
    /// first; set it to make a session run reproducible from its inputs.
    pub seed: u64,
}

/// A seed that differs between configurations and between processes.
fn fresh_seed() -> u64 {
    use std::hash::BuildHasher;
    // Hashers are keyed from the operating system's randomness once per thread, and the keys
    // change with every `RandomState`.
    std::collections::hash_map::RandomState::new().hash_one(std::process::id())
}

impl Config {
    /// A configuration for the servers and chroot of `connect_string`, with defaults elsewhere.
    pub fn new(connect_string: &str) -> Result<Config, ConfigError> {
        let ConnectString { hosts, chroot } = ConnectString::parse(connect_string)?;
        Ok(Config::from_hosts(hosts, chroot))
    }

    /// A configuration from already parsed parts.
    pub fn from_hosts(hosts: Vec<HostAddr>, chroot: Chroot) -> Config {
        Config {
            hosts,
            chroot,
            session_timeout: Duration::from_secs(30),
            connect_timeout: None,
            read_only_allowed: false,
            resume: None,
            auth: Vec::new(),
            sasl: None,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_in_flight: 1024,
            client_side_expiry: true,
            queue_while_disconnected: true,
            queue_timeout: None,
            call_timeout: None,
            backoff: Backoff::default(),
            close_timeout: Duration::from_secs(2),
            read_only_probe: (Duration::from_millis(100), Duration::from_secs(60)),
            seed: fresh_seed(),
        }
    }

    /// Checks the values that could make the session misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.hosts.is_empty() {
            return Err(ConfigError::NoHosts);
        }
        let ms = self.session_timeout.as_millis();
        if ms == 0 || ms > i32::MAX as u128 {
            return Err(ConfigError::OutOfRange(
                "session timeout must be between 1 ms and i32::MAX ms",
            ));
        }
        if self.max_frame_len < 1024 || self.max_frame_len > i32::MAX as usize {
            return Err(ConfigError::OutOfRange(
                "max frame length must be between 1 KiB and i32::MAX bytes",
            ));
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::OutOfRange("max in-flight must be at least 1"));
        }
        // Every duration is added to an `Instant`: bound them all like the session timeout.
        let bounded = |d: Duration| d.as_millis() <= i32::MAX as u128;
        let durations = [
            self.connect_timeout.unwrap_or(Duration::ZERO),
            self.queue_timeout.unwrap_or(Duration::ZERO),
            self.call_timeout.unwrap_or(Duration::ZERO),
            self.backoff.max_jitter,
            self.backoff.pass_delay,
            self.close_timeout,
            self.read_only_probe.0,
            self.read_only_probe.1,
        ];
        if !durations.into_iter().all(bounded) {
            return Err(ConfigError::OutOfRange(
                "every duration must be at most i32::MAX ms (about 24 days)",
            ));
        }
        if self.connect_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::OutOfRange(
                "the connect timeout must not be zero",
            ));
        }
        let (first, max) = self.read_only_probe;
        if first < Duration::from_millis(1) || first > max {
            return Err(ConfigError::OutOfRange(
                "read-only probe delays must be at least 1 ms, the first no larger than the largest",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_gets_its_own_seed_so_clients_spread_over_the_hosts() {
        let seeds: std::collections::HashSet<u64> = (0..8)
            .map(|_| Config::new("a:1,b:2,c:3").unwrap().seed)
            .collect();
        assert_eq!(seeds.len(), 8, "{seeds:?}");
    }

    #[test]
    fn connect_strings_parse_hosts_ports_ipv6_and_chroot() {
        let cs = ConnectString::parse("a:1,b,[::1]:3,[fe80::2]/app/x").unwrap();
        assert_eq!(
            cs.hosts,
            vec![
                HostAddr::new("a", 1),
                HostAddr::new("b", 2181),
                HostAddr::new("::1", 3),
                HostAddr::new("fe80::2", 2181),
            ]
        );
        assert_eq!(cs.chroot.as_str(), "/app/x");
        assert_eq!(ConnectString::parse("h:1/").unwrap().chroot, Chroot::none());
        assert_eq!(
            ConnectString::parse("::1").unwrap().hosts[0],
            HostAddr::new("::1", 2181)
        );
    }

    #[test]
    fn durations_that_would_overflow_an_instant_are_refused() {
        let ok = Config::new("h:1").unwrap();
        assert_eq!(ok.validate(), Ok(()));
        let mut c = ok.clone();
        c.close_timeout = Duration::MAX;
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange(_))));
        let mut c = ok.clone();
        c.queue_timeout = Some(Duration::MAX);
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange(_))));
        let mut c = ok.clone();
        c.backoff.pass_delay = Duration::MAX;
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange(_))));
        let mut c = ok.clone();
        c.read_only_probe = (Duration::ZERO, Duration::from_secs(1));
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange(_))));
        let mut c = ok;
        c.connect_timeout = Some(Duration::MAX);
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange(_))));
    }

    #[test]
    fn bad_connect_strings_are_typed_errors() {
        assert_eq!(ConnectString::parse(""), Err(ConfigError::NoHosts));
        assert_eq!(ConnectString::parse(" /x"), Err(ConfigError::NoHosts));
        assert_eq!(
            ConnectString::parse(" , /x"),
            Err(ConfigError::EmptyHost { position: 1 })
        );
        let bad_port = |entry: &str, port: &str| ConfigError::BadPort {
            entry: entry.into(),
            port: port.into(),
        };
        assert_eq!(ConnectString::parse("h:x"), Err(bad_port("h:x", "x")));
        assert_eq!(ConnectString::parse("h:0"), Err(bad_port("h:0", "0")));
        assert_eq!(
            ConnectString::parse("h:70000"),
            Err(bad_port("h:70000", "70000"))
        );
        assert_eq!(
            ConnectString::parse("[::1]:99999"),
            Err(bad_port("[::1]:99999", "99999"))
        );
        assert_eq!(ConnectString::parse("h:"), Err(bad_port("h:", "")));
        for bad in ["[::1", ":1", "[]:1", "[::1]x", "a b:1", "user@h:1", "h:1?x"] {
            assert_eq!(
                ConnectString::parse(bad),
                Err(ConfigError::BadHost(bad.into())),
                "{bad:?}"
            );
        }
        assert!(matches!(
            ConnectString::parse("h/a/"),
            Err(ConfigError::BadChroot(_))
        ));
    }

    #[test]
    fn urls_are_refused_naming_the_scheme() {
        for (input, scheme) in [
            ("http://127.0.0.1:2181", "http"),
            ("zk://a:1,b:2/app", "zk"),
            (" zookeeper://h ", "zookeeper"),
        ] {
            let err = ConnectString::parse(input).unwrap_err();
            assert_eq!(
                err,
                ConfigError::Url {
                    input: input.trim().into(),
                    scheme: scheme.into()
                }
            );
            assert!(err.to_string().contains("host:port"), "{err}");
        }
    }

    #[test]
    fn empty_entries_are_refused_with_their_position() {
        for (input, position) in [("a:1,,b:2", 2), (",a:1", 1), ("a:1,", 2), ("a, ,b", 2)] {
            assert_eq!(
                ConnectString::parse(input),
                Err(ConfigError::EmptyHost { position }),
                "{input:?}"
            );
        }
    }

    #[test]
    fn ipv6_addresses_in_lists_need_brackets() {
        assert_eq!(
            ConnectString::parse("a,b:1:2:x"),
            Err(ConfigError::BadHost("b:1:2:x".into())),
            "not an IPv6 address at all"
        );
        assert_eq!(
            ConnectString::parse("a,fe80::1"),
            Err(ConfigError::UnbracketedIpv6 {
                entry: "fe80::1".into()
            })
        );
        assert_eq!(
            ConnectString::parse("2001:db8::5:2181"),
            Err(ConfigError::UnbracketedIpv6 {
                entry: "2001:db8::5:2181".into()
            }),
            "alone, but its last group could be a port"
        );
        assert_eq!(
            ConnectString::parse("a:1,::1:2181"),
            Err(ConfigError::UnbracketedIpv6 {
                entry: "::1:2181".into()
            })
        );
        let listed = ConnectString::parse("a:1,[::1]:2182,[fe80::1]").unwrap();
        assert_eq!(
            listed.hosts,
            [
                HostAddr::new("a", 1),
                HostAddr::new("::1", 2182),
                HostAddr::new("fe80::1", DEFAULT_PORT)
            ]
        );
        // Alone and bare, it must be an address: taken whole, on the default port.
        assert_eq!(
            ConnectString::parse("::1").unwrap().hosts,
            [HostAddr::new("::1", DEFAULT_PORT)]
        );
        assert_eq!(
            ConnectString::parse("b:1:2:x"),
            Err(ConfigError::BadHost("b:1:2:x".into()))
        );
    }

    #[test]
    fn good_connect_strings_parse() {
        let c = ConnectString::parse(" zk1:2181, zk2 ,10.0.0.3:2182/app/x ").unwrap();
        assert_eq!(
            c.hosts,
            [
                HostAddr::new("zk1", 2181),
                HostAddr::new("zk2", DEFAULT_PORT),
                HostAddr::new("10.0.0.3", 2182)
            ]
        );
        assert_eq!(c.chroot, Chroot::new("/app/x").unwrap());
    }
}
