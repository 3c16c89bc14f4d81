//! Real Apache ZooKeeper test harness.
