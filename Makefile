# plangate — make targets. `make demo` and `make test` work on a fresh
# machine with Go: when terraform is not on PATH, one is built into ./bin.

SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin

# Terraform: the one on PATH, else ./bin/terraform built from source
# (v1.5.7 is the last MPL-licensed release; it builds through the Go module
# proxy in a few minutes). Tests find it the same way (internal/tfbin).
TERRAFORM_FALLBACK_VERSION := v1.5.7
TERRAFORM := $(shell command -v terraform 2>/dev/null)
ifeq ($(TERRAFORM),)
TERRAFORM := $(BIN)/terraform
endif
export PATH := $(BIN):$(PATH)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build test test-terraform-fallback test-opentofu opentofu demo lint fmt-check vet bench terraform clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/plangate ./cmd/plangate

terraform: $(TERRAFORM)

$(BIN)/terraform:
	@echo "terraform not found on PATH: building $(TERRAFORM_FALLBACK_VERSION) into $(BIN) (a few minutes, once)"
	GOBIN=$(BIN) $(GO) install github.com/hashicorp/terraform@$(TERRAFORM_FALLBACK_VERSION)

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*' -not -path './node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: fmt-check vet

# The tests run real terraform (terraform_data stacks, no network) and the
# real plangate binary over stdio.
# Progress: a line per package as it ends, a line every 30 s while a long
# one runs, a failing test's output in full, and every skip with its reason
# (internal/testprogress reads go test -json).
TESTPROGRESS := $(BIN)/testprogress
test: lint terraform e2e-deps browser-deps
	@$(GO) build -o $(TESTPROGRESS) ./internal/testprogress
	set -o pipefail; PLANGATE_E2E_BROWSER=required $(GO) test -json -count=1 -timeout 30m ./... | $(TESTPROGRESS)

# The real MCP clients the e2e tests run (e2e/clients: the TypeScript SDK
# and the MCP Inspector), installed from the committed lockfile; skipped
# when node_modules is newer than package.json and package-lock.json.
.PHONY: e2e-deps
e2e-deps:
	@stamp=e2e/clients/node_modules/.e2e-deps-stamp; \
	if [ -f $$stamp ] && [ $$stamp -nt e2e/clients/package-lock.json ] && [ $$stamp -nt e2e/clients/package.json ]; then \
		echo "e2e/clients/node_modules is up to date"; \
	else \
		command -v npm >/dev/null || { echo "npm not found: the e2e tests need Node >= 20 and npm"; exit 1; }; \
		npm ci --prefix e2e/clients --no-audit --no-fund && touch $$stamp; \
	fi

# The browser the review-page tests drive (e2e/review_page_test.go,
# through playwright-core): Debian's chromium, never a browser download.
# Installed with apt-get when missing and we are root (as CI is); otherwise
# this fails and says how to install it. `make test` then requires the
# browser tests to run (PLANGATE_E2E_BROWSER=required): they never skip.
CHROMIUM := /usr/bin/chromium
.PHONY: browser-deps
browser-deps:
	@if [ -x $(CHROMIUM) ]; then \
		echo "$(CHROMIUM) is installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "$(CHROMIUM) not found: installing Debian's chromium with apt-get (a few minutes, once)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium && test -x $(CHROMIUM); \
	else \
		echo "$(CHROMIUM) not found: the review-page tests need Debian's chromium; install it as root (apt-get install -y chromium) and run make test again"; \
		exit 1; \
	fi

# The README's screenshots of the review page (docs/review-*.png), taken
# by the browser test as it runs.
.PHONY: review-screenshots
review-screenshots: e2e-deps browser-deps
	PLANGATE_SCREENSHOTS=docs PLANGATE_E2E_BROWSER=required $(GO) test -count=1 -run '^TestReviewPageInChromium$$' ./e2e/

# The same tests against the fallback Terraform (the oldest plangate
# supports), built from source into ./bin/compat. The AWS-provider tests of
# cmd/plangate (TestAWS*: remote state with S3's use_lockfile needs
# Terraform >= 1.10) run in `make test` only, with the machine's Terraform.
test-terraform-fallback:
	@test -x $(BIN)/compat/terraform || GOBIN=$(BIN)/compat $(GO) install github.com/hashicorp/terraform@$(TERRAFORM_FALLBACK_VERSION)
	@$(GO) build -o $(TESTPROGRESS) ./internal/testprogress
	set -o pipefail; PLANGATE_TERRAFORM=$(BIN)/compat/terraform $(GO) test -json -count=1 -timeout 30m -skip '^TestAWS(Loop|AccountGuard|RemoteState)' ./plan/ ./server/ ./cmd/... | $(TESTPROGRESS)

# The same Terraform-facing tests against OpenTofu, built from its Go module
# into ./bin/opentofu (about 2.5 minutes once). Its go.mod has replace
# directives, so `go install` refuses it: the module is downloaded through
# the proxy and built in a writable copy, flagged as a release (as
# OpenTofu's own release builds are) so that it reports 1.10.10, not -dev.
# The AWS-provider tests of cmd/plangate (TestAWSLoop, TestAWSAccountGuard,
# TestAWSRemoteState, TestAWSCheckDrift) and plan's TestFidelityAWS are skipped: OpenTofu resolves their `hashicorp/aws`
# to registry.opentofu.org/hashicorp/aws, which neither the test mirror
# (laid out for registry.terraform.io) nor the default providers policy
# has; they run in `make test` with the machine's Terraform.
OPENTOFU_VERSION := v1.10.10
TOFU := $(BIN)/opentofu/tofu

opentofu: $(TOFU)

$(TOFU):
	@echo "building OpenTofu $(OPENTOFU_VERSION) into $(BIN)/opentofu (a few minutes, once)"
	@set -e; src=$$($(GO) mod download -json github.com/opentofu/opentofu@$(OPENTOFU_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$src" || { echo "go mod download github.com/opentofu/opentofu@$(OPENTOFU_VERSION) failed"; exit 1; }; \
	tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/opentofu-src.XXXXXX"); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	cp -R "$$src/." "$$tmp/" && chmod -R u+w "$$tmp" && \
	(cd "$$tmp" && $(GO) build -ldflags "-X github.com/opentofu/opentofu/version.dev=no" -o $(TOFU) ./cmd/tofu)

test-opentofu: $(TOFU)
	@$(GO) build -o $(TESTPROGRESS) ./internal/testprogress
	set -o pipefail; PLANGATE_TERRAFORM=$(TOFU) $(GO) test -json -count=1 -timeout 30m -skip '^Test(AWS(Loop|AccountGuard|RemoteState|CheckDrift))' ./plan/ ./server/ ./cmd/... | $(TESTPROGRESS)

demo: build terraform
	$(BIN)/plangate demo

# Benchmarks on generated stacks of 1,000 and 10,000 terraform_data
# instances (internal/gen; all create, all replace, a mix): Go benchmarks of
# the analysis, the renderer and the sanitizer, then the ratio report
# (analysis vs `terraform show -json`, plan_change vs bare terraform;
# every tool result's size on the wire on plans of 0–2,000 deletions
# (benchreport -results-only alone), start-up to the tools/list answer next
# to a bare mcp-go server (-startup-only); concurrent calls over stdio,
# then 20 agent sessions over HTTP for 60 s; see docs/performance.md). Real terraform makes the plans once, into a
# temporary directory both share; 12–35 minutes on 2 cores.
bench: terraform
	@dir=$$(mktemp -d "$${TMPDIR:-/tmp}/plangate-bench.XXXXXX") && trap 'rm -rf "$$dir"' EXIT && \
	PLANGATE_BENCH_DIR="$$dir" $(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./plan/ && \
	$(GO) build -o "$$dir/benchreport" ./internal/gen/benchreport && \
	PLANGATE_BENCH_DIR="$$dir" "$$dir/benchreport"

clean:
	rm -rf $(BIN)
