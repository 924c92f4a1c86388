# scimgate — see README.md. The two commands: `make run` and `make test`.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/scimgate
GOFILES := $(shell find cmd gateway internal ldapstore schema test deploy -name '*.go')
# go-asn1-ber with scimgate's decoder change, a module of its own (go.mod's replace; SCIMGATE.md there)
ASN1BER := internal/third_party/asn1-ber

.PHONY: build run test conformance fuzz bench vet fmt-check lint-deploy slapd hydra clean

## build: the scimgate binary, in bin/
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/scimgate

## run: install slapd if needed, then start a throwaway directory with demo data and the gateway
run: slapd build
	./$(BIN) dev

## test: vet, a gofmt check, and every test (integration tests included) with the race detector
test: vet fmt-check lint-deploy hydra
	$(GO) test -race -count=1 ./...
	cd $(ASN1BER) && $(GO) vet ./... && $(GO) test -race -count=1 ./...

## conformance: Microsoft's and Okta's SCIM test suites (../shared/conformance, or SCIMGATE_CONFORMANCE) against the gateway over slapd; see docs/conformance.md
conformance: slapd
	$(GO) run ./test/conformance

## fuzz: run each fuzz target for FUZZTIME (default 50000 inputs: a count, not a duration, which can end a run with "context deadline exceeded"); a crash leaves its input in testdata/fuzz, which then runs in make test.
## (No minimising either, for the same reason.)
FUZZTIME ?= 50000x
FUZZ_TARGETS := schema:FuzzParseFilter schema:FuzzPatch ldapstore:FuzzFilterTranslation ldapstore:FuzzEqualityIsExact \
	ldapstore:FuzzChildDN gateway:FuzzNormalize gateway:FuzzAppendString \
	$(ASN1BER):FuzzDecodeIsStable $(ASN1BER):FuzzDecodePacket
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t#*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		(cd ./$$pkg && $(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=0 .); done

## bench: load 100,000 users into a throwaway slapd and measure the gateway against raw LDAP (docs/benchmarks.md)
bench: slapd hydra
	$(GO) run ./test/bench $(BENCHFLAGS)

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## lint-deploy: lint the Dockerfile (dockerfile-utils, from npm); the other deployment files are checked by deploy/deploy_test.go
lint-deploy:
	npx --yes dockerfile-utils@0.16.3 lint deploy/Dockerfile

slapd:
	@test/slapd/install.sh

## hydra: build Ory Hydra (the OAuth 2.0 server of the end-to-end auth tests) into bin/hydra; ~3 min the first time
hydra: bin/hydra

bin/hydra: test/tools/hydra/go.mod test/tools/hydra/go.sum
	cd test/tools/hydra && $(GO) build -tags sqlite,sqlite_omit_load_extension -o ../../../bin/hydra github.com/ory/hydra/v2

clean:
	rm -rf bin
