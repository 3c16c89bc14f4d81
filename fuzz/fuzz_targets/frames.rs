//! Cuts frames off arbitrary bytes and decodes each as every kind of reply; successful decodes must
//! round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zk_proto::fuzz::frames(data));
