#!/usr/bin/env bash
# The demonstration: installs ZooKeeper if missing, starts a local 3-node ensemble, runs the
# tour of the client (including a leader kill the session survives), and stops the ensemble.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo run --release -p zk-tests --example demo
