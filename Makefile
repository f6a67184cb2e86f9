# The entry points a person needs. `make demo` runs the main job, `make test` the tests.
LABS := target/release/labs
PG_CONFIG ?= pg_config

.PHONY: setup build demo image test cargo-test lint fmt-check installcheck dev-check docker-test bench

setup:
	@scripts/setup

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

# The lab server image `pgbg-labs/server:<version>` for the docker backend; rebuilt only when
# docker/ or extension/ changed.
image:
	@scripts/image

test: setup cargo-test lint fmt-check installcheck dev-check docker-test

cargo-test:
	@cargo test --locked

lint:
	@cargo clippy --locked --all-targets --quiet -- -D warnings

fmt-check:
	@cargo fmt --check

installcheck: setup
	@eval "$$($(LABS) server env --backend native)" && $(MAKE) -s -C extension installcheck PG_CONFIG=$(PG_CONFIG)

# Every reference solution passes, every starter fails, every wrong answer fails exactly the
# checks its header names.
dev-check: setup
	@$(LABS) dev check all --backend native

# The server and lab tests again on the docker backend: a Docker engine installed and started
# when missing, the image built when docker/ or extension/ changed.
docker-test: setup
	@scripts/docker-up
	@scripts/image
	@LABS_TEST_BACKEND=docker cargo test --locked --test server --test check --test backends
	@$(LABS) dev check all --backend docker

bench: setup
	@$(LABS) bench start --out target/bench
	@$(LABS) bench extension --backend native --out target/bench
	@$(LABS) bench checks --backend native --out target/bench
