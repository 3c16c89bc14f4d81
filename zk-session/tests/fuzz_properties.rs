//! The bounded, always-on version of the `session` fuzz target: arbitrary input sequences must
//! keep every promise `zk_session::fuzzing::session_inputs` checks.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_input_sequences_keep_the_session_promises(
        data in proptest::collection::vec(any::<u8>(), 0..400)
    ) {
        zk_session::fuzzing::session_inputs(&data);
    }

    /// Sequences biased towards a working session: connect, handshake, requests, replies.
    #[test]
    fn connected_sessions_keep_their_promises_under_arbitrary_traffic(
        flags in any::<u8>(),
        ops in proptest::collection::vec((0u8..16, any::<u8>()), 0..200),
    ) {
        let mut data = vec![flags, 1, 0, 4, 3];
        for (op, arg) in ops {
            data.push(op);
            data.push(arg);
        }
        zk_session::fuzzing::session_inputs(&data);
    }
}
