//! Decodes arbitrary bytes as a request body of every opcode and as a handshake request; successful
//! decodes must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zk_proto::fuzz::requests(data));
