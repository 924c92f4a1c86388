// Package config reads scimgate's configuration: one YAML file, every key
// of which the environment can override as SCIMGATE_<SECTION>_<KEY>, and
// validation that names the wrong key and says why.
//
// It only assembles and checks the sections that the other packages define
// (gateway.ServerConfig, auth.Config, ldapstore.Config, ...); what each key
// means is documented beside its field there.
package config

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scimgate/scimgate/gateway"
	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// Config is the whole configuration file.
type Config struct {
	Server    gateway.ServerConfig   `yaml:"server"`
	LDAP      ldapstore.Config       `yaml:"ldap"`
	Users     Users                  `yaml:"users"`
	Groups    Groups                 `yaml:"groups"`
	Search    ldapstore.SearchConfig `yaml:"search"`
	Directory Directory              `yaml:"directory"`
	Auth      auth.Config            `yaml:"auth"`
	Bulk      gateway.BulkConfig     `yaml:"bulk"`
	Patch     gateway.PatchConfig    `yaml:"patch"`
	Limits    schema.Limits          `yaml:"limits"`
	Me        gateway.MeConfig       `yaml:"me"`
	Log       Log                    `yaml:"log"`
	Audit     Audit                  `yaml:"audit"`
	Tracing   Tracing                `yaml:"tracing"`
}

// Users is the "users" section: where users live and how they map
// (ldapstore.UsersConfig), how the gateway answers their writes
// (gateway.ResponseConfig), and how a user's manager is found
// (users.manager), side by side. Keys only groups have are unknown here.
type Users struct {
	ldapstore.UsersConfig  `yaml:",inline"`
	gateway.ResponseConfig `yaml:",inline"`
	Manager                ldapstore.ManagerConfig `yaml:"manager"`
}

// Validate reports every problem of the section, each naming its key.
func (u Users) Validate() error {
	return errors.Join(u.ResourceConfig.Validate("users"), u.ResponseConfig.Validate("users"), u.Manager.Validate())
}

// Groups is the "groups" section: where groups live and how they map
// (ldapstore.GroupsConfig), and how the gateway answers their writes
// (gateway.ResponseConfig). Keys only users have are unknown here.
type Groups struct {
	ldapstore.GroupsConfig `yaml:",inline"`
	gateway.ResponseConfig `yaml:",inline"`
}

// Validate reports every problem of the section, each naming its key.
func (g Groups) Validate() error {
	return errors.Join(g.ResourceConfig.Validate("groups"), g.ResponseConfig.Validate("groups"))
}

// Tracing is the "tracing" section: OpenTelemetry traces, sent over
// OTLP/HTTP; off unless an endpoint is set.
//
//	tracing:
//	  endpoint: ""                # e.g. http://otel-collector:4318 ("": no traces)
//	  sample_percent: 100         # of the traces started here (a caller's sampled traceparent is followed)
//	  service_name: scimgate
type Tracing struct {
	Endpoint      string `yaml:"endpoint"`
	SamplePercent int    `yaml:"sample_percent"`
	ServiceName   string `yaml:"service_name"`
}

// Audit is the "audit" section: where the audit log goes, one JSON line
// per write (gateway/audit.go).
//
//	audit:
//	  output: stdout   # stdout | stderr | off | a file path (appended to)
type Audit struct {
	Output string `yaml:"output"`
}

// Directory is the "directory" section.
//
//	directory:
//	  profile: openldap
type Directory struct {
	// Profile names the mapping preset for the kind of directory.
	Profile string `yaml:"profile"`
}

// Log is the "log" section.
//
//	log:
//	  level: info          # debug | info | warn | error
//	  format: json         # json | console
//	  buffer_size: 65536   # bytes of lines held before one write; 0: each line written at once
//	  flush_interval: 1s   # the longest a line waits in the buffer
//
// Buffered, a request's access log line costs no system call of its own;
// warnings and errors are written at once, with what was buffered before
// them, and the buffer is written out when scimgate stops.
type Log struct {
	Level         string        `yaml:"level"`
	Format        string        `yaml:"format"`
	BufferSize    int           `yaml:"buffer_size"`
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// EnvPrefix starts every environment variable scimgate reads.
const EnvPrefix = "SCIMGATE_"

// EnvConfigFile names the configuration file when --config is not given.
const EnvConfigFile = EnvPrefix + "CONFIG"

// Default returns the configuration used where neither the file nor the
// environment says otherwise.
func Default() Config {
	return Config{
		Server:    gateway.DefaultServerConfig(),
		LDAP:      ldapstore.Config{}.WithDefaults(),
		Users:     Users{ResponseConfig: gateway.ResponseConfig{PatchResponse: http.StatusOK}},
		Groups:    Groups{ResponseConfig: gateway.ResponseConfig{PatchResponse: http.StatusNoContent}},
		Search:    ldapstore.SearchConfig{}.WithDefaults(),
		Directory: Directory{Profile: "openldap"},
		Auth:      auth.DefaultConfig(),
		Bulk:      gateway.DefaultBulkConfig(),
		Patch:     gateway.DefaultPatchConfig(),
		Limits:    schema.DefaultLimits(),
		Me:        gateway.DefaultMeConfig(),
		Log:       Log{Level: "info", Format: "json", BufferSize: 64 << 10, FlushInterval: time.Second},
		Audit:     Audit{Output: "stdout"},
		Tracing:   Tracing{SamplePercent: 100, ServiceName: "scimgate"},
	}
}

// Load reads the file at path (none if path is empty), applies the
// SCIMGATE_* variables of environ over it, and validates the result.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)                                               // a misspelt key is an error, not a silent default
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
			return cfg, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Validate reports every problem of the configuration, one per line, each
// naming its key.
func (c Config) Validate() error {
	errs := []error{
		c.Server.Validate(),
		c.LDAP.Validate(),
		c.Search.Validate(),
		c.Users.Validate(),
		c.Groups.Validate(),
		c.Auth.Validate(),
		c.Bulk.Validate(),
		c.Patch.Validate(),
		c.Limits.Validate(),
		c.Me.Validate(c.Auth),
	}
	if _, err := schema.Preset(c.Directory.Profile); err != nil {
		errs = append(errs, fmt.Errorf("directory.profile: %w", err))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	if c.Tracing.Endpoint != "" {
		if u, err := url.Parse(c.Tracing.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("tracing.endpoint: %q is not an http(s) URL such as http://otel-collector:4318", c.Tracing.Endpoint))
		}
	}
	if c.Tracing.SamplePercent < 0 || c.Tracing.SamplePercent > 100 {
		errs = append(errs, fmt.Errorf("tracing.sample_percent: %d is not between 0 and 100", c.Tracing.SamplePercent))
	}
	if c.Audit.Output == "" {
		errs = append(errs, errors.New("audit.output: say where the audit log goes: stdout, stderr, a file path, or off"))
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		errs = append(errs, fmt.Errorf("log.format: %q is not json or console", c.Log.Format))
	}
	if c.Log.BufferSize < 0 {
		errs = append(errs, fmt.Errorf("log.buffer_size: %d is negative (0 writes each line at once)", c.Log.BufferSize))
	}
	if c.Log.BufferSize > 0 && c.Log.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("log.flush_interval: %v must be positive with a buffer (log.buffer_size)", c.Log.FlushInterval))
	}
	return errors.Join(errs...)
}

// EnvVars lists every environment variable that sets a key, with its key,
// in file order: SCIMGATE_SERVER_LISTEN → server.listen.
func EnvVars() [][2]string {
	var out [][2]string
	walk(reflect.ValueOf(&Config{}).Elem(), nil, func(path []string, _ reflect.Value) {
		out = append(out, [2]string{envName(path), strings.Join(path, ".")})
	})
	return out
}

func envName(path []string) string {
	return EnvPrefix + strings.ToUpper(strings.Join(path, "_"))
}

// applyEnv sets the keys named by SCIMGATE_* variables. Lists are comma
// separated, durations as in "5s", booleans as true/false. An unknown
// SCIMGATE_* variable is an error, so that a misspelling is not ignored.
func applyEnv(cfg *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, EnvPrefix) && k != EnvConfigFile {
			env[k] = v
		}
	}
	var errs []error
	walk(reflect.ValueOf(cfg).Elem(), nil, func(path []string, f reflect.Value) {
		name := envName(path)
		v, ok := env[name]
		if !ok {
			return
		}
		delete(env, name)
		if err := setFromString(f, v); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", name, strings.Join(path, "."), err))
		}
	})
	for name := range env {
		errs = append(errs, fmt.Errorf("%s: no such setting (see `scimgate env` for the list)", name))
	}
	return errors.Join(errs...)
}

var durationType = reflect.TypeOf(time.Duration(0))

// walk calls fn for every settable leaf of v (a struct), with its YAML path.
// Lists of structures (auth.tokens) have no environment form.
func walk(v reflect.Value, path []string, fn func([]string, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		tag, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		f := v.Field(i)
		if opts == "inline" {
			walk(f, path, fn) // an embedded section's keys sit at this level
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		p := append(append([]string(nil), path...), tag)
		switch {
		case f.Kind() == reflect.Struct:
			walk(f, p, fn)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct, f.Kind() == reflect.Map:
		default:
			fn(p, f)
		}
	}
}

func setFromString(f reflect.Value, s string) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 5s or 1m30s", s)
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.SetInt(n)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		var list []string
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, part)
			}
		}
		f.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
