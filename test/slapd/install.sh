#!/bin/sh
# Installs OpenLDAP's slapd and ldap-utils when they are missing: with
# apt-get when running as root on Debian or Ubuntu, otherwise by telling the
# user the command to run. Used by `make run` and by .ci/run.
set -eu
if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then
	exit 0
fi
cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "scimgate needs OpenLDAP's slapd for its throwaway directory. Install it with:" >&2
	echo "  sudo $cmd" >&2
	echo "(or your system's equivalent: the packages slapd and ldap-utils), then run this again." >&2
	exit 1
fi
echo "Installing slapd and ldap-utils with apt-get..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q slapd ldap-utils >/dev/null 2>&1 || {
	apt-get update -q >/dev/null
	apt-get install -y -q slapd ldap-utils >/dev/null
}
