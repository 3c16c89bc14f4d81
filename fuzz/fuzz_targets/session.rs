//! Arbitrary sequences of session inputs (bytes, frames, connects, disconnects, time jumps,
//! submissions, close) must keep every promise `zk_session::fuzzing::session_inputs` checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    zk_session::fuzzing::session_inputs(data);
});
