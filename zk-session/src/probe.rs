//! The probe's exchange ([`crate::Action::Probe`]): what a driver sends to ask a server whether
//! it is read-only, and how it reads the answer. Every driver uses these, so they all probe
//! the same way.

/// The four-letter word a driver sends on a fresh connection to ask whether the server serves
/// reads and writes.
pub const REQUEST: &[u8; 4] = b"isro";

/// How many bytes of the answer a driver reads: `rw` or `ro`, then the server closes.
pub const ANSWER_LEN: usize = 2;

/// What a probed server said about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `rw`: it serves reads and writes.
    ReadWrite,
    /// `ro`: it is read-only (cut off from its ensemble's quorum).
    ReadOnly,
    /// No answer, or one that is neither: it could not be reached, did not answer in time, or
    /// does not allow the `isro` command.
    Unknown,
}

impl Answer {
    /// The answer `bytes` (those read, at most [`ANSWER_LEN`]; none when the connection or the
    /// exchange failed).
    pub fn parse(bytes: &[u8]) -> Answer {
        match bytes {
            b"rw" => Answer::ReadWrite,
            b"ro" => Answer::ReadOnly,
            _ => Answer::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_answers_count() {
        assert_eq!(Answer::parse(b"rw"), Answer::ReadWrite);
        assert_eq!(Answer::parse(b"ro"), Answer::ReadOnly);
        for unknown in [&b"r"[..], b"", b"rwx", b"RW", b"xx"] {
            assert_eq!(Answer::parse(unknown), Answer::Unknown, "{unknown:?}");
        }
    }
}
