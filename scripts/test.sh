#!/usr/bin/env bash
# Every test: installs ZooKeeper if missing, then runs the workspace's tests (unit, property,
# virtual-time, golden, real-server, ensemble, TLS and the conformance suite on every adapter).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace
