//! The conformance suite (`zk_tests::conformance`) against `zk-async-std` under async-std (`async_std::task::block_on`).
//!
//! Needs Apache ZooKeeper: a missing installation fails every scenario with the install command.

zk_tests::conformance_tests!(zk_tests::conformance::AsyncStdAdapter);
