#!/bin/sh
# Installs 389 Directory Server (Debian's 389-ds-base, without the
# recommended packages) when it is missing (see ../internal/apt-install.sh).
# Used by .ci/run. The tests run ns-slapd themselves, in the foreground (see
# ds389.go); the package starts no server (it ships systemd units only, and
# creates no instance), so there is nothing to stop here.
set -eu
if command -v ns-slapd >/dev/null 2>&1 || [ -x /usr/sbin/ns-slapd ]; then
	exit 0
fi
exec "$(dirname "$0")/../internal/apt-install.sh" "scimgate's 389 Directory Server tests need 389-ds-base" \
	--no-install-recommends 389-ds-base
