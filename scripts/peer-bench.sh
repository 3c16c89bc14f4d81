#!/usr/bin/env bash
# The comparative benchmark: this project's clients beside zookeeper-client (kezhuw),
# tokio-zookeeper and zookeeper 0.8 on the same workloads, against a local ZooKeeper 3.8 it
# starts itself (installed first when missing). Arguments go to the benchmark; `--help` lists
# them (`--pin` for the server alone on one CPU, `--quick` for a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec cargo run --release --manifest-path peer-bench/Cargo.toml -- "$@"
