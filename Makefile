# The entry points a person needs. `make demo` runs the main job, `make test` the tests.
LABS := target/release/labs
PG_CONFIG ?= pg_config

.PHONY: setup build demo test cargo-test lint fmt-check installcheck bench

setup:
	@scripts/setup

build:
	@cargo build --release --locked --quiet

demo: setup
	@$(LABS) server start
	@$(LABS) server psql -- -X -q -v ON_ERROR_STOP=1 -d postgres -f scripts/demo.sql

test: setup cargo-test lint fmt-check installcheck

cargo-test:
	@cargo test --locked

lint:
	@cargo clippy --locked --all-targets --quiet -- -D warnings

fmt-check:
	@cargo fmt --check

installcheck: setup
	@eval "$$($(LABS) server env)" && $(MAKE) -s -C extension installcheck PG_CONFIG=$(PG_CONFIG)

bench: setup
	@$(LABS) bench extension --out target/bench
