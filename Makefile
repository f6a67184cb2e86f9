# The entry points a person needs. `make demo` runs the main job, `make test` the tests.
LABS := target/release/labs
PG_CONFIG ?= pg_config

.PHONY: setup browser build demo test cargo-test lint fmt-check installcheck dev-check bench

setup:
	@scripts/setup

# Headless Chromium for the test that opens the gradebook's report page.
browser:
	@scripts/setup --browser

build:
	@cargo build --release --locked --quiet

# A query computed by a background worker, then every lab checked on its reference solution.
demo: setup
	@$(LABS) server start
	@$(LABS) server psql -- -X -q -v ON_ERROR_STOP=1 -d postgres -f scripts/demo.sql
	@for lab in labs/[0-9]*; do \
		n=$$(basename $$lab | sed 's/_.*//; s/^0*//'); \
		$(LABS) check $$n --answer $$lab/solution.sql || exit 1; \
	done

test: setup browser cargo-test lint fmt-check installcheck dev-check

cargo-test:
	@cargo test --locked

lint:
	@cargo clippy --locked --all-targets --quiet -- -D warnings

fmt-check:
	@cargo fmt --check

installcheck: setup
	@eval "$$($(LABS) server env)" && $(MAKE) -s -C extension installcheck PG_CONFIG=$(PG_CONFIG)

# Every reference solution passes, every starter fails, every wrong answer fails exactly the
# checks its header names.
dev-check: setup
	@$(LABS) dev check all

bench: setup
	@$(LABS) bench extension --out target/bench
	@$(LABS) bench checks --out target/bench
	@$(LABS) bench grade --out target/bench
