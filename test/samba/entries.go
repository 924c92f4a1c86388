package samba

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// UnicodePwd is the value of AD's unicodePwd for password: quoted, in
// UTF-16LE. It is written over LDAPS only (AD refuses it in clear).
func UnicodePwd(password string) string {
	u := utf16.Encode([]rune(`"` + password + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}

// UserLDIF is the LDIF of an enabled user below PeopleDN, for
// Options.LDIF: CN, sAMAccountName and givenName name,
// userPrincipalName name@example.org, the password password (which must
// meet the domain's complexity rule: three kinds of character and 7 or
// more of them) and mail name@example.org. A gateway test seeds the
// directory with it as it seeds slapd with slapd.DemoLDIF.
func UserLDIF(name, password string) string {
	pwd := base64.StdEncoding.EncodeToString([]byte(UnicodePwd(password)))
	return fmt.Sprintf("dn: CN=%[1]s,%[2]s\nobjectClass: user\nsAMAccountName: %[1]s\ngivenName: %[1]s\n"+
		"userPrincipalName: %[1]s@example.org\nmail: %[1]s@example.org\nunicodePwd:: %[3]s\nuserAccountControl: 512\n\n",
		name, PeopleDN, pwd)
}
