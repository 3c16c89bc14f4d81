//! The hostile-server suite (`zk_tests::hostile`) against zk-async-std under smol.
//!
//! A scripted fake ZooKeeper on loopback breaks the protocol in every way the suite knows; each
//! case checks the client's outcomes, their timing, the heap's peak and that nothing panicked.
//! Needs no ZooKeeper installation. The counting allocator below measures the heap peaks.

#[global_allocator]
static ALLOC: zk_tests::hostile::measure::CountingAlloc =
    zk_tests::hostile::measure::CountingAlloc::new();

zk_tests::hostile_tests!(zk_tests::conformance::SmolAdapter);
