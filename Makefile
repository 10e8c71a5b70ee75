# The README's two commands: `make test` and `make run`. Everything else here serves them.
BUILD_DIR ?= build
ORCH_HOME ?= $(HOME)/.orch
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
ASAN_BUILD_DIR ?= build-asan
FUZZ_BUILD_DIR ?= build-fuzz
LIBCXX_BUILD_DIR ?= build-libcxx
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build test gates check-format format tidy tidy-only asan asan-only \
	run bench package clean fuzz libcxx libcxx-only

all: build

deps:
	@scripts/install-deps

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Installs missing dependencies, configures, builds, runs every test through CTest, then the
# gates. The gates come after the tests, not before the build: a misformatted line should not
# hide the tests' results, and the format check (seconds) would save little by going first.
# A test that fails is run once more before it fails the run (--repeat until-pass:2): the
# end-to-end tests drive real processes (three orch hosts, tmux, git, PostgreSQL) on 2 shared
# cores, and FleetTest's kill -9 case failed once in ~35 runs without a cause found yet. CTest
# prints every failed try, so a flake stays visible in the log.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --repeat until-pass:2 -j $(JOBS)
	@$(MAKE) --no-print-directory gates

# The gates, each of which fails `make test` (all three run, then any failure fails):
#   check-format  clang-format 14 over the tracked sources (scripts/check-format), seconds
#   tidy          clang-tidy 14 over src/ (.clang-tidy; scripts/check-tidy), about 5 min
#   asan          the unit tests built with ASan + UBSan in $(ASAN_BUILD_DIR), about 10 min
#   libcxx        every source compiled with clang and libc++ in $(LIBCXX_BUILD_DIR), yaml-cpp and
#                 cpp-httplib from Debian's sources, and every unit test run
# -Werror (CMake option ORCH_WERROR, on by default) is the fourth: it fails `make build`.
gates: configure
	@failed=""; \
	scripts/check-format || failed="$$failed check-format"; \
	$(MAKE) --no-print-directory tidy-only || failed="$$failed tidy"; \
	$(MAKE) --no-print-directory asan-only || failed="$$failed asan"; \
	$(MAKE) --no-print-directory libcxx-only || failed="$$failed libcxx"; \
	if [ -n "$$failed" ]; then echo "make gates: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make gates: check-format, tidy, asan and libcxx passed"

check-format:
	scripts/check-format

# Rewrites every tracked source with clang-format 14 (what check-format checks).
format:
	scripts/check-format --fix

# tidy-only and asan-only are tidy and asan without the dependency check (gates did it).
# cmake first so that compile_commands.json lists the sources CMakeLists.txt lists now.
tidy: configure
	@$(MAKE) --no-print-directory tidy-only
tidy-only: $(BUILD_DIR)/CMakeCache.txt
	cmake -S . -B $(BUILD_DIR) >/dev/null
	BUILD_DIR=$(BUILD_DIR) JOBS=$(JOBS) scripts/check-tidy

# ASan + UBSan: a second build directory (Debug: quickest to compile) with -DORCH_SANITIZE=ON,
# only orch_unit_tests and what it needs (orch, for shim_test), and the unit tests run with every
# sanitizer report fatal (scripts/run-sanitized).
$(ASAN_BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD_DIR) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DORCH_SANITIZE=ON

asan: deps
	@$(MAKE) --no-print-directory asan-only
asan-only: $(ASAN_BUILD_DIR)/CMakeCache.txt
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS) --target orch_unit_tests
	JOBS=$(JOBS) scripts/run-sanitized $(ASAN_BUILD_DIR)/orch_unit_tests

# clang++-14 with libc++ (macOS's C++ library), to catch code that builds with libstdc++ only:
# scripts/check-libcxx says how. libcxx-only: without the build.
libcxx: build
	@$(MAKE) --no-print-directory libcxx-only
libcxx-only: $(BUILD_DIR)/CMakeCache.txt
	BUILD_DIR=$(BUILD_DIR) LIBCXX_BUILD_DIR=$(LIBCXX_BUILD_DIR) JOBS=$(JOBS) scripts/check-libcxx

# libFuzzer over the receiver's parsers (fuzz/): the HTTP request parser and the webhook envelope
# scanner, each built with clang++ (ASan + UBSan) from its own sources into $(FUZZ_BUILD_DIR) and
# run for FUZZ_SECONDS (default 60) from the seed corpus in fuzz/corpus/<target>. New inputs go
# to $(FUZZ_BUILD_DIR)/corpus/<target>, a crash to $(FUZZ_BUILD_DIR)/crash-* (and fails).
FUZZ_CXX ?= clang++
FUZZ_FLAGS := -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Isrc
fuzz:
	@mkdir -p $(FUZZ_BUILD_DIR)
	$(FUZZ_CXX) $(FUZZ_FLAGS) fuzz/http_request_fuzz.cc src/receiver/http_parser.cc \
		-o $(FUZZ_BUILD_DIR)/http_request_fuzz
	$(FUZZ_CXX) $(FUZZ_FLAGS) fuzz/webhook_envelope_fuzz.cc src/receiver/webhook_envelope.cc \
		-o $(FUZZ_BUILD_DIR)/webhook_envelope_fuzz
	@for t in http_request webhook_envelope; do \
		mkdir -p $(FUZZ_BUILD_DIR)/corpus/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD_DIR)/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD_DIR)/ $(FUZZ_BUILD_DIR)/corpus/$$t fuzz/corpus/$$t \
			2>$(FUZZ_BUILD_DIR)/$$t.log || { tail -50 $(FUZZ_BUILD_DIR)/$$t.log; exit 1; }; \
		grep -E '^(stat::number_of_executed_units|Done)' $(FUZZ_BUILD_DIR)/$$t.log || true; \
	done

# Builds, then runs orch in the foreground with ORCH_HOME (default ~/.orch). With GitHub
# credentials configured that is the daemon (`orch serve`); without, the offline demo (a local
# GitHub simulator, a stand-in agent and orch, under $(ORCH_HOME)/demo). The first run writes a
# config.yml with a generated webhook secret (the receiver refuses to start without one).
run: build
	@scripts/first-run "$(ORCH_HOME)"
	ORCH_HOME="$(ORCH_HOME)" $(BUILD_DIR)/orch demo start --or-serve

bench: build
	$(BUILD_DIR)/orch_bench
	$(BUILD_DIR)/orch_webhook_bench
	$(BUILD_DIR)/orch_dispatch_bench
	$(BUILD_DIR)/orch_stream_bench
	$(BUILD_DIR)/orch_dashboard_bench
	$(BUILD_DIR)/orch_fleet_bench

# A .deb of orch (CPack): build/orch_<version>_<arch>.deb.
package: build
	cd $(BUILD_DIR) && cpack -G DEB

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(FUZZ_BUILD_DIR) $(LIBCXX_BUILD_DIR)
