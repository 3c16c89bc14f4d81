#!/usr/bin/env bash
# Installs Apache ZooKeeper 3.8 (Debian's `zookeeper` package, which brings Java) when absent.
set -euo pipefail
jar="${ZK_JAR:-/usr/share/java/zookeeper.jar}"
if [ -f "$jar" ] && command -v "${JAVA:-java}" >/dev/null 2>&1; then
  exit 0
fi
echo "ZooKeeper not found at $jar: installing Debian's zookeeper package" >&2
sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
$sudo_cmd apt-get update
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y zookeeper
