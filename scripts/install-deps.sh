#!/bin/sh
# install-deps.sh: installs the Debian packages plinth builds and tests with,
# only those that are missing.  Nothing is downloaded from anywhere else.
# `make test` and `make demo` run it first; the tests themselves install
# nothing, and a test that needs one of these packages and finds it missing
# fails (tests/integration/lib/skip.sh: need_cmd).
set -e
PKGS="build-essential pkg-config liblua5.4-dev libcurl4-openssl-dev libjansson-dev
libyaml-dev libmicrohttpd-dev libcmocka-dev libssh2-1-dev libssl-dev
openssh-server openssh-client valgrind python3 python3-yaml curl cppcheck openssl
clang-format libsqlite3-dev chromium"
# kubectl: Debian's kubernetes-client, unless a kubectl is already installed
# (the Google Cloud CLI's own package provides one).
command -v kubectl > /dev/null 2>&1 || PKGS="$PKGS kubernetes-client"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
