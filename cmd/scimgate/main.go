// Command scimgate is a SCIM 2.0 gateway in front of an LDAP directory.
//
//	scimgate serve [--config FILE]   run the gateway
//	scimgate dev [--listen ADDR]     try it: a throwaway OpenLDAP with demo data, and the gateway
//	scimgate check [--config FILE]   check the configuration and the directory
//	scimgate token new --name NAME   make a static bearer token and print its configuration
//	scimgate health [--config FILE]  exit 0 if the gateway answers /healthz
//	scimgate env                     list the SCIMGATE_* environment variables
//	scimgate version                 print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `scimgate: a SCIM 2.0 gateway in front of an LDAP directory.

Usage:
  scimgate serve [--config FILE]   run the gateway
  scimgate dev [--listen ADDR]     try it: a throwaway OpenLDAP with demo data, and the gateway
  scimgate check [--config FILE]   check the configuration and the directory, and say what is wrong
  scimgate token new --name NAME [--scopes S,...]
                                   make a static bearer token (auth.mode token) and print its config lines
  scimgate health [--config FILE]  exit 0 if the gateway configured so answers /healthz (container health checks)
  scimgate env                     list the SCIMGATE_* environment variables and the keys they set
  scimgate version                 print the version

The configuration file is --config, else $SCIMGATE_CONFIG, else none: then
the environment alone configures scimgate.
`

func main() {
	// Collections: the heap grows by its live size but at least 128 MiB
	// between them (unless GOGC says otherwise), and in a container stays
	// under its memory limit (memory.go).
	tuneGC()
	setMemoryLimit(os.DirFS("/sys/fs/cgroup"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the process's exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("scimgate "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var err error
	switch cmd {
	case "serve":
		config := configFlag(fs)
		if err = fs.Parse(args); err == nil {
			err = serve(ctx, *config, stderr)
		}
	case "dev":
		listen := fs.String("listen", "127.0.0.1:8080", "address for the gateway")
		if err = fs.Parse(args); err == nil {
			err = dev(ctx, *listen, stdout, stderr)
		}
	case "check":
		config := configFlag(fs)
		if err = fs.Parse(args); err == nil {
			err = check(ctx, *config, stdout)
		}
	case "token":
		err = tokenCommand(args, os.Stdin, stdout, stderr)
	case "health":
		config := configFlag(fs)
		if err = fs.Parse(args); err == nil {
			err = health(ctx, *config)
		}
	case "env":
		if err = fs.Parse(args); err == nil {
			printEnv(stdout)
		}
	case "version", "--version", "-v":
		printVersion(stdout)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "scimgate: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 1
	}
	fmt.Fprintf(stderr, "scimgate %s: %v\n", cmd, err)
	return 1
}

// errReported means the command has already said what went wrong.
var errReported = errors.New("reported")

func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", os.Getenv("SCIMGATE_CONFIG"), "configuration file (default $SCIMGATE_CONFIG; none: environment only)")
}
