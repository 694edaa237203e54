#!/bin/sh
# install-deps.sh: installs the Debian packages plinth builds and tests with,
# only those that are missing.  Nothing is downloaded from anywhere else.
set -e
PKGS="build-essential pkg-config liblua5.4-dev libcurl4-openssl-dev libjansson-dev
libyaml-dev libmicrohttpd-dev libcmocka-dev libssh2-1-dev libssl-dev
openssh-server openssh-client valgrind python3 curl cppcheck openssl"
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
