//! The read-write probe's exchange ([`crate::Action::Probe`]): what a driver sends to a server
//! and how it reads the answer. Every driver uses these, so they all probe the same way.

/// The four-letter word a driver sends on a fresh connection to ask whether the server serves
/// reads and writes.
pub const REQUEST: &[u8; 4] = b"isro";

/// How many bytes of the answer a driver reads: `rw` or `ro`, then the server closes.
pub const ANSWER_LEN: usize = 2;

/// Whether `answer` (the bytes read, at most [`ANSWER_LEN`]) says the server serves reads and
/// writes. Anything else, a short or missing answer included, is a no.
pub fn serves_read_write(answer: &[u8]) -> bool {
    answer == b"rw"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_rw_answer_is_a_yes() {
        assert!(serves_read_write(b"rw"));
        for no in [&b"ro"[..], b"r", b"", b"rwx", b"RW"] {
            assert!(!serves_read_write(no), "{no:?}");
        }
    }
}
