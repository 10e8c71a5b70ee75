# The README's two commands: `make test` and `make run`. Everything else here serves them.
BUILD_DIR ?= build
ORCH_HOME ?= $(HOME)/.orch
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all deps configure build test run bench package clean

all: build

deps:
	@scripts/install-deps

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Installs missing dependencies, configures, builds, and runs every test through CTest.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

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

# A .deb of orch (CPack): build/orch_<version>_<arch>.deb.
package: build
	cd $(BUILD_DIR) && cpack -G DEB

clean:
	rm -rf $(BUILD_DIR)
