#!/bin/sh
# apt-install.sh NEEDED-BY [APT-OPTION...] PACKAGE...
#
# Installs Debian packages for the test harnesses' install.sh scripts: with
# apt-get when running as root on Debian or Ubuntu (updating the package
# lists only if the first try fails), otherwise by telling the user the
# command to run and failing. NEEDED-BY says who needs them, for that message.
set -eu
needed_by=$1
shift
cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y $*"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "$needed_by: install what is missing with:" >&2
	echo "  sudo $cmd" >&2
	echo "(or your system's equivalent), then run this again." >&2
	exit 1
fi
names=
for a in "$@"; do
	case $a in -*) ;; *) names="$names $a" ;; esac
done
echo "Installing$names with apt-get..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "$@" >/dev/null 2>&1 || {
	apt-get update -q >/dev/null
	apt-get install -y -q "$@" >/dev/null
}
