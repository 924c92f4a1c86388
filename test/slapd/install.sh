#!/bin/sh
# Installs OpenLDAP's slapd and ldap-utils when they are missing (see
# ../internal/apt-install.sh). Used by `make run` and by .ci/run. Note that
# Debian's package also sets up a system slapd of its own, which scimgate
# does not use.
set -eu
if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then
	exit 0
fi
exec "$(dirname "$0")/../internal/apt-install.sh" "scimgate needs OpenLDAP's slapd for its throwaway directory" slapd ldap-utils
