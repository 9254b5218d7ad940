# The two commands of README: `make demo` runs the local network, `make test` runs every test.
SWIFT ?= swift
HOST ?= 127.0.0.1

.PHONY: demo test build bench microbench deps

deps:
	@scripts/ensure-deps.sh

demo: deps
	@echo "make demo: building evalnet in release mode (the first build on a fresh machine takes 15-20 minutes on 2 cores; later builds are incremental)"
	$(SWIFT) build -c release --product evalnet
	.build/release/evalnet demo $(DEMO_ARGS)

test:
	@scripts/ensure-deps.sh --with-postgres --with-browser
	$(SWIFT) build --build-tests
	@# The cross-replica delivery timing (0.25 s) is measured alone, after everything else.
	scripts/with-postgres.sh sh -c '$(SWIFT) test --skip-build --skip PlatformReplicaTests $(TEST_ARGS) && $(SWIFT) test --skip-build --filter PlatformReplicaTests $(TEST_ARGS)'


build: deps
	$(SWIFT) build

bench: deps
	$(SWIFT) build -c release --product evalnet-bench
	scripts/with-postgres.sh .build/release/evalnet-bench $(BENCH_ARGS)

# Micro-benchmarks (ordo-one/benchmark, release build) in their own package under Benchmarks/,
# so the main build never pays for that dependency. Extra plugin arguments: MICROBENCH_ARGS,
# e.g. MICROBENCH_ARGS="--filter SR25519" or "baseline update main" / "baseline compare main".
microbench: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark $(MICROBENCH_ARGS)
