#!/usr/bin/env bash
# Installs what the tests and the demonstration need, from Debian's packages, when absent:
# Apache ZooKeeper 3.8 (`zookeeper`, which brings Java); an MIT KDC for the Kerberos tests
# (`krb5-kdc`, `krb5-admin-server`); and, to build the GSSAPI mechanism, the GSSAPI headers and
# libclang (`libkrb5-dev`, `libclang-dev`).
set -euo pipefail
jar="${ZK_JAR:-/usr/share/java/zookeeper.jar}"
missing=()
if [ ! -f "$jar" ] || ! command -v "${JAVA:-java}" >/dev/null 2>&1; then
  missing+=(zookeeper)
fi
[ -x /usr/sbin/krb5kdc ] || missing+=(krb5-kdc)
[ -x /usr/sbin/kadmin.local ] || missing+=(krb5-admin-server)
[ -f /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
compgen -G "/usr/lib/llvm-*/lib/libclang*.so*" >/dev/null || missing+=(libclang-dev)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "installing Debian's ${missing[*]}" >&2
sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
$sudo_cmd apt-get update
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y "${missing[@]}"
