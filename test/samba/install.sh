#!/bin/sh
# Installs Samba's Active Directory domain controller (Debian's samba,
# samba-ad-dc and samba-ad-provision, without the other recommended packages)
# when it is missing (see ../internal/apt-install.sh). Used by .ci/run.
#
# The tests run their own samba in the foreground (see samba.go); the
# packages' daemons (smbd, nmbd, winbind, samba-ad-dc) are not wanted: they
# are stopped and disabled, so that nothing of theirs holds a port.
set -eu
pkgs="samba samba-ad-dc samba-ad-provision"

installed() {
	{ command -v samba >/dev/null 2>&1 || [ -x /usr/sbin/samba ]; } &&
		command -v samba-tool >/dev/null 2>&1 &&
		[ -d /usr/share/samba/setup/ad-schema ]
}

# stop_daemons stops and disables what the packages may have started, by
# their init system and then by their pid files.
stop_daemons() {
	[ "$(id -u)" = 0 ] || return 0
	for s in samba-ad-dc smbd nmbd winbind; do
		if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
			systemctl disable --now "$s" >/dev/null 2>&1 || true
		fi
		if [ -x "/etc/init.d/$s" ]; then
			/etc/init.d/"$s" stop >/dev/null 2>&1 || true
			update-rc.d "$s" disable >/dev/null 2>&1 || true
		fi
	done
	for f in /run/samba/samba.pid /run/samba/smbd.pid /run/samba/nmbd.pid /run/samba/winbindd.pid; do
		[ -s "$f" ] || continue
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null; then
			echo "Stopping $f's process $pid" >&2
			kill "$pid" || true
		fi
	done
}

installed || "$(dirname "$0")/../internal/apt-install.sh" "scimgate's Samba AD tests need $pkgs" \
	--no-install-recommends $pkgs # (a list: split)
stop_daemons
