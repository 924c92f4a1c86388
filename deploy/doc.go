// Package deploy holds what runs scimgate outside a developer's machine:
// the Dockerfile, a compose file, a Kubernetes base, a systemd unit, the
// example configuration (scimgate.example.yaml) and one configuration per
// directory (examples/), which the tests of this directory check
// (deploy_test.go) and test/directories_test.go runs on real directories;
// deploy/ldap holds scimgate's optional LDAP schema. It holds no code of
// the binary and imports none.
package deploy
