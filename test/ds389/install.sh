#!/bin/sh
# Installs 389 Directory Server (Debian's 389-ds-base, without the
# recommended packages) when it is missing: with apt-get when running as root
# on Debian or Ubuntu, otherwise by telling the user the command to run. Used
# by .ci/run. The tests run ns-slapd themselves, in the foreground (see
# ds389.go); the package starts no server (it ships systemd units only, and
# creates no instance), so there is nothing to stop here.
set -eu
if command -v ns-slapd >/dev/null 2>&1 || [ -x /usr/sbin/ns-slapd ]; then
	exit 0
fi
cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends 389-ds-base"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "scimgate's 389 Directory Server tests need 389-ds-base. Install it with:" >&2
	echo "  sudo $cmd" >&2
	echo "(or your system's equivalent), then run this again." >&2
	exit 1
fi
echo "Installing 389-ds-base with apt-get..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends 389-ds-base >/dev/null 2>&1 || {
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends 389-ds-base >/dev/null
}
