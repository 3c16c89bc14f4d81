//! Decodes arbitrary bytes as a reply frame to every opcode, a notification and a handshake
//! response; successful decodes must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zk_proto::fuzz::replies(data));
