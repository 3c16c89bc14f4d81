//! The conformance suite (`zk_tests::conformance`) against `zk-tokio` on a multi-threaded tokio runtime.
//!
//! Needs Apache ZooKeeper: a missing installation fails every scenario with the install command.

zk_tests::conformance_tests!(zk_tests::conformance::TokioAdapter);
