# The entry points a person needs. `make demo` runs the main job, `make test` the tests.
LABS := target/release/labs
PG_CONFIG ?= pg_config
# mdBook, pinned; installed with cargo into a project-local folder (LABS_TOOLS_DIR overrides it,
# so that CI can keep one per machine).
MDBOOK_VERSION := 0.5.4
TOOLS_DIR ?= $(or $(LABS_TOOLS_DIR),tools)
MDBOOK := $(TOOLS_DIR)/bin/mdbook

.PHONY: setup browser build demo image grader-image test cargo-test lint fmt-check installcheck \
	compat-check dev-check docker-test engines-test swarm-test k8s-test matrix bench book serve \
	author-serve \
	mdbook book-check

setup:
	@scripts/setup

# Headless Chromium for the test that opens the gradebook's report page.
browser:
	@scripts/setup --browser

build:
	@cargo build --release --locked --quiet

# A query computed by a background worker, then every lab checked on its reference solution.
# On the native server, which `make test` uses too: a docker server left in the same home would
# stand in its way.
demo: setup
	@$(LABS) server start --backend native
	@$(LABS) server psql -- -X -q -v ON_ERROR_STOP=1 -d postgres -f scripts/demo.sql
	@for lab in labs/[0-9]*; do \
		n=$$(basename $$lab | sed 's/_.*//; s/^0*//'); \
		$(LABS) check $$n --answer $$lab/solution.sql || exit 1; \
	done

# The lab server image `pgbg-labs/server:<version>` for the docker backend; rebuilt only when
# docker/ or extension/ changed.
image:
	@scripts/image

# The grader image `pgbg-labs/grader:<version>`: the lab server image plus this `labs` and the
# labs, one container grading one shard of a class (deploy/grader/); rebuilt when they changed.
grader-image: build
	@scripts/grader-image

test: setup browser cargo-test lint fmt-check installcheck compat-check dev-check book-check \
	docker-test engines-test

# The workbench's test builds the workbook with mdBook.
cargo-test: mdbook
	@MDBOOK="$(MDBOOK)" cargo test --locked

# Clippy, and the layers of ARCHITECTURE.md: in the runner (scripts/import-graph) and in the
# extension (scripts/include-graph), no cycle and no file over 400 lines that does not say why.
lint:
	@cargo clippy --locked --all-targets --quiet -- -D warnings
	@scripts/import-graph
	@scripts/include-graph

fmt-check:
	@cargo fmt --check

installcheck: setup
	@eval "$$($(LABS) server env --backend native)" && $(MAKE) -s -C extension installcheck PG_CONFIG=$(PG_CONFIG)

# The extension compiles with -Werror against the headers of the matrix's other majors too
# (trixie's 17, sid's newest; fetched from Debian's archive): seconds, no Docker.
compat-check:
	@scripts/compat-check

# Every reference solution passes, every starter fails, every wrong answer fails exactly the
# checks its header names.
dev-check: setup
	@$(LABS) dev check all --backend native

# The server and lab tests again on the docker backend: a Docker engine installed and started
# when missing, the image built when docker/ or extension/ changed. The lab check runs in a home
# folder of its own, beside the native server the other targets keep running.
docker-test: setup
	@scripts/docker-up
	@scripts/image
	@LABS_TEST_BACKEND=docker cargo test --locked --test server --test check --test backends
	@LABS_HOME="$(CURDIR)/target/docker-home" $(LABS) dev check all --backend docker

# A class graded in 3 shards on the engines, each merged and compared with the gradebook one
# machine makes: as a Docker Swarm replicated job (a single-node swarm made and left when the
# engine is in none), and as the Kubernetes Job `labs grade plan` renders (validated offline,
# its pods run with docker run). swarm-test and k8s-test run one of them; `make test` both, on
# one class graded once on this machine.
engines-test: setup
	@scripts/engines-test

swarm-test: setup
	@scripts/engines-test swarm

k8s-test: setup
	@scripts/engines-test k8s

# The extension (built with -Werror, then `make installcheck`) and every lab (`labs dev check`)
# on each PostgreSQL major Debian's suites carry: bookworm's 15, trixie's 17, sid's newest, each
# in its own lab server image (`scripts/image N`); says which major passed.
matrix: build
	@scripts/matrix

bench: setup book
	@$(LABS) bench start --out target/bench
	@$(LABS) bench extension --backend native --out target/bench
	@$(LABS) bench checks --backend native --out target/bench
	@$(LABS) bench grade --backend native --out target/bench
	@$(LABS) bench grade --shards 3 --backend native --out target/bench
	@$(LABS) bench serve --backend native --out target/bench

# mdBook at the pinned version, installed when missing or of another version.
mdbook:
	@test "$$($(MDBOOK) --version 2>/dev/null)" = "mdbook v$(MDBOOK_VERSION)" || \
		cargo install --locked --quiet --version $(MDBOOK_VERSION) mdbook --root $(TOOLS_DIR)

# The workbook's HTML in book/build/; any warning of mdBook fails the build.
book: mdbook
	@mkdir -p target && $(MDBOOK) build book 2> target/mdbook.log || { cat target/mdbook.log; exit 1; }
	@if grep -E "WARN|ERROR" target/mdbook.log; then echo "mdbook build gave warnings" >&2; exit 1; fi

# The workbook with runnable examples and checkable labs (`labs serve`) for the workspace
# WORKSPACE (`labs init` made it; `make serve WORKSPACE=~/pgbg`); mdBook's own live-reloading
# server for authors.
WORKSPACE ?= .
serve: setup book
	@$(LABS) serve --book $(CURDIR)/book --workspace $(WORKSPACE)

author-serve: mdbook
	@$(MDBOOK) serve book

# The committed pages equal a fresh render on the lab server, the HTML builds without warnings,
# every internal link resolves, and every part shows real outputs in headless Chromium.
book-check: setup browser
	@$(LABS) book render --check
	@$(MAKE) -s book
	@$(LABS) book links book/build
	@$(LABS) book look book/build --out target/book-look
