//! The conformance suite (`zk_tests::conformance`) against `zk-blocking`.
//!
//! Needs Apache ZooKeeper: a missing installation fails every scenario with the install command.

zk_tests::conformance_tests!(zk_tests::conformance::BlockingAdapter);
