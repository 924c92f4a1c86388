// Package certs makes the TLS material of throwaway servers, for
// internal/devdir (`scimgate dev` and test/slapd) and the test harnesses
// test/ds389 and test/samba: a CA made for one server alone, a server
// certificate it signs for the server's addresses and names, and a client
// certificate, all with Go's crypto (no openssl, and fast: P-256 keys).
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files written by Write into its directory.
const (
	CA        = "ca.pem"         // the CA's certificate
	Server    = "server.pem"     // the server's certificate, signed by the CA
	ServerKey = "server-key.pem" // its key (PKCS #8)
	Client    = "client.pem"     // a client certificate (CN scimgate), signed by the CA
	ClientKey = "client-key.pem" // its key
)

// backdating: certificates are valid from an hour ago (clocks differ).
const backdating = time.Hour

// Write writes CA, Server, ServerKey, Client and ClientKey into dir, each
// readable by its owner alone (0600: Samba refuses a key others can read),
// valid for validity. The server certificate names hosts: IP addresses go
// into its IP SANs, anything else into its DNS SANs; the first host is also
// its common name. The CA's key is not kept: nothing else can be signed by
// it.
func Write(dir string, validity time.Duration, hosts ...string) error {
	if len(hosts) == 0 {
		return errors.New("certs: no host to certify")
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "scimgate test CA"},
		NotBefore:             now.Add(-backdating),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	files := map[string]*pem.Block{CA: {Type: "CERTIFICATE", Bytes: caDER}}
	if err := issue(files, Server, ServerKey, serverTemplate(now, validity, hosts), caCert, caKey); err != nil {
		return err
	}
	client := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "scimgate"},
		NotBefore:    now.Add(-backdating),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if err := issue(files, Client, ClientKey, client, caCert, caKey); err != nil {
		return err
	}
	for name, block := range files {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return fmt.Errorf("certs: %w", err)
		}
	}
	return nil
}

// serverTemplate is the server certificate for hosts.
func serverTemplate(now time.Time, validity time.Duration, hosts []string) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-backdating),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}

// issue adds name and its key (name without .pem, then -key.pem) to files:
// a new key, certified by the CA after tmpl.
func issue(files map[string]*pem.Block, name, keyName string, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	files[name] = &pem.Block{Type: "CERTIFICATE", Bytes: der}
	files[keyName] = &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}
	return nil
}
