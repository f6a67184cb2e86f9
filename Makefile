# The entry points a person needs. `make demo` runs the main job, `make test` the tests.
LABS := target/release/labs
PG_CONFIG ?= pg_config
# mdBook, pinned; installed with cargo into a project-local folder (LABS_TOOLS_DIR overrides it,
# so that CI can keep one per machine).
MDBOOK_VERSION := 0.5.4
TOOLS_DIR ?= $(or $(LABS_TOOLS_DIR),tools)
MDBOOK := $(TOOLS_DIR)/bin/mdbook

.PHONY: setup browser build demo image test cargo-test lint fmt-check installcheck compat-check \
	dev-check docker-test matrix bench book serve mdbook book-check

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

test: setup browser cargo-test lint fmt-check installcheck compat-check dev-check book-check \
	docker-test

cargo-test:
	@cargo test --locked

lint:
	@cargo clippy --locked --all-targets --quiet -- -D warnings

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

# The extension (built with -Werror, then `make installcheck`) and every lab (`labs dev check`)
# on each PostgreSQL major Debian's suites carry: bookworm's 15, trixie's 17, sid's newest, each
# in its own lab server image (`scripts/image N`); says which major passed.
matrix: build
	@scripts/matrix

bench: setup
	@$(LABS) bench start --out target/bench
	@$(LABS) bench extension --backend native --out target/bench
	@$(LABS) bench checks --backend native --out target/bench
	@$(LABS) bench grade --backend native --out target/bench

# mdBook at the pinned version, installed when missing or of another version.
mdbook:
	@test "$$($(MDBOOK) --version 2>/dev/null)" = "mdbook v$(MDBOOK_VERSION)" || \
		cargo install --locked --quiet --version $(MDBOOK_VERSION) mdbook --root $(TOOLS_DIR)

# The workbook's HTML in book/build/; any warning of mdBook fails the build.
book: mdbook
	@mkdir -p target && $(MDBOOK) build book 2> target/mdbook.log || { cat target/mdbook.log; exit 1; }
	@if grep -E "WARN|ERROR" target/mdbook.log; then echo "mdbook build gave warnings" >&2; exit 1; fi

serve: mdbook
	@$(MDBOOK) serve book

# The committed pages equal a fresh render on the lab server, the HTML builds without warnings,
# every internal link resolves, and every part shows real outputs in headless Chromium.
book-check: setup browser
	@$(LABS) book render --check
	@$(MAKE) -s book
	@$(LABS) book links book/build
	@$(LABS) book look book/build --out target/book-look
