package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/scimgate/scimgate/gateway/auth"
)

// defaultTokenScopes are what a provisioning client needs: users and groups,
// read and write.
var defaultTokenScopes = []string{
	auth.JanssenScopes.UsersRead, auth.JanssenScopes.UsersWrite,
	auth.JanssenScopes.GroupsRead, auth.JanssenScopes.GroupsWrite,
}

// tokenCommand runs `scimgate token new` and `scimgate token hash`.
func tokenCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "new" && args[0] != "hash") {
		fmt.Fprint(stderr, "usage: scimgate token new --name NAME [--scopes S1,S2,...]\n"+
			"       scimgate token hash --name NAME [--scopes ...] < token   (for a token you already have)\n")
		return errReported
	}
	fs := flag.NewFlagSet("scimgate token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the client's name, shown in logs (e.g. okta, entra)")
	scopes := fs.String("scopes", strings.Join(defaultTokenScopes, ","), "scopes the token grants, comma- or space-separated")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("--name is required: it names the client in logs")
	}
	list := strings.FieldsFunc(*scopes, func(r rune) bool { return r == ',' || r == ' ' })
	if len(list) == 0 {
		return errors.New("--scopes: a token without scopes can do nothing")
	}

	var token string
	var entry auth.StaticToken
	if args[0] == "new" {
		var err error
		if token, entry, err = newToken(*name, list); err != nil {
			return err
		}
	} else {
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if token = strings.TrimSpace(line); token == "" {
			return errors.New("no token on standard input")
		}
		sum := sha256.Sum256([]byte(token))
		entry = auth.StaticToken{Name: *name, SHA256: hex.EncodeToString(sum[:]), Scopes: list}
	}
	snippet, err := yaml.Marshal([]auth.StaticToken{entry})
	if err != nil {
		return err
	}
	if args[0] == "new" {
		fmt.Fprintf(stdout, "Token for %s (give it to the client now: scimgate keeps only its hash, so it cannot be shown again):\n\n  %s\n\n", *name, token)
	}
	fmt.Fprintf(stdout, "Add to auth.tokens in the configuration (or to the list in auth.tokens_file):\n\n%s", indent(string(snippet), "  "))
	return nil
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
