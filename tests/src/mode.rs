//! A server's role, as the `srvr` four-letter word reports it.

use std::fmt;
use std::str::FromStr;

/// The `Mode:` of a server that serves requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A server that runs alone (`standalone`).
    Standalone,
    /// The ensemble's leader (`leader`).
    Leader,
    /// A voting member following the leader (`follower`).
    Follower,
    /// A non-voting member following the leader (`observer`).
    Observer,
    /// A member without quorum serving read-only sessions (`read-only`);
    /// only with [`ServerOptions::read_only`](crate::config::ServerOptions::read_only).
    ReadOnly,
}

/// What `srvr` answers while the server runs but does not serve (no quorum
/// yet, or an election under way).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

impl Mode {
    /// The mode in the answer to `srvr`, or `None` when the answer has no
    /// `Mode:` line (e.g. [`NOT_SERVING`]).
    pub fn from_srvr(answer: &str) -> Option<Self> {
        answer
            .lines()
            .find_map(|line| line.strip_prefix("Mode:"))
            .and_then(|mode| mode.trim().parse().ok())
    }

    /// Whether the server accepts writes in this mode (all but read-only).
    pub fn is_read_write(self) -> bool {
        self != Self::ReadOnly
    }

    /// Whether the server orders writes: the leader, or a standalone server.
    pub fn leads(self) -> bool {
        matches!(self, Self::Leader | Self::Standalone)
    }

    /// The word `srvr` uses for this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standalone => "standalone",
            Self::Leader => "leader",
            Self::Follower => "follower",
            Self::Observer => "observer",
            Self::ReadOnly => "read-only",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The word after `Mode:` was none of ZooKeeper's modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown ZooKeeper mode {:?}", self.0)
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        match word {
            "standalone" => Ok(Self::Standalone),
            "leader" => Ok(Self::Leader),
            "follower" => Ok(Self::Follower),
            "observer" => Ok(Self::Observer),
            "read-only" => Ok(Self::ReadOnly),
            other => Err(UnknownMode(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_mode_line_of_srvr() {
        let answer = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\n\
                      Zxid: 0x0\nMode: follower\nNode count: 5\n";
        assert_eq!(Mode::from_srvr(answer), Some(Mode::Follower));
        assert_eq!(Mode::from_srvr("Mode: read-only\n"), Some(Mode::ReadOnly));
        assert_eq!(Mode::from_srvr(NOT_SERVING), None);
    }

    #[test]
    fn round_trips_through_its_word() {
        for mode in [
            Mode::Standalone,
            Mode::Leader,
            Mode::Follower,
            Mode::Observer,
            Mode::ReadOnly,
        ] {
            assert_eq!(mode.as_str().parse::<Mode>(), Ok(mode));
        }
        assert!("looking".parse::<Mode>().is_err());
    }
}
