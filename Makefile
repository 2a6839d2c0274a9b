# The README's two commands: `make run` and `make test`. Everything else is a step of those.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
ARGS ?=
# --build in Docker's build stage: no test packages.
SETUP_FLAGS ?=
COMPAT := tests/compat

.PHONY: all setup configure build run test test-plain test-sanitize bench bench-readers bench-rest bench-amqp bench-amqp-devices fuzz clean

all: build

setup:
	@scripts/setup.sh $(SETUP_FLAGS)

configure: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts the emulator with working defaults (data in ./data). Pass flags with ARGS="--hub-name myhub".
run: build
	$(BUILD_DIR)/iothub-emulator $(ARGS)

$(COMPAT)/node_modules/.package-lock.json: $(COMPAT)/package-lock.json
	@npm ci --prefix $(COMPAT) --no-audit --no-fund --loglevel=error

# Builds and runs every test: unit, integration and the official SDKs, then unit and integration again
# under AddressSanitizer + UndefinedBehaviorSanitizer.
test: test-plain test-sanitize

test-plain: build $(COMPAT)/node_modules/.package-lock.json
	@if [ "$$(id -u)" -ne 0 ]; then \
	  echo "make test: granting $(BUILD_DIR)/iothub-emulator the right to bind port 443 (the Azure SDKs use only 443)"; \
	  sudo setcap cap_net_bind_service=+ep $(BUILD_DIR)/iothub-emulator; \
	fi
	@cd $(BUILD_DIR) && ctest -j $(JOBS) --output-on-failure

# The unit and integration tests built with -fsanitize=address,undefined in $(SANITIZE_BUILD_DIR) (no bench, no
# Node compat test, which runs against the normal build); any finding, in a test or in the emulator or CLI it
# starts, fails the test (tests/sanitizer_options.cpp).
SANITIZE_BUILD_DIR ?= build-asan
test-sanitize: setup
	@cmake -S . -B $(SANITIZE_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DIOTHUB_SANITIZE=ON >/dev/null
	@cmake --build $(SANITIZE_BUILD_DIR) -j $(JOBS)
	@cd $(SANITIZE_BUILD_DIR) && ctest -j $(JOBS) --output-on-failure

# Prints throughput and memory figures (bench/README.md). BENCH_ARGS="--devices 4 --idle 1000".
BENCH_ARGS ?=
bench: build
	$(BUILD_DIR)/mqtt-bench --emulator $(BUILD_DIR)/iothub-emulator $(BENCH_ARGS)

# Live event readers against ingest, on an empty log and a million-event one (bench/README.md).
READER_BENCH_ARGS ?=
bench-readers: build
	$(BUILD_DIR)/reader-bench --emulator $(BUILD_DIR)/iothub-emulator $(READER_BENCH_ARGS)

# The Event Hub-compatible endpoint read by the official Event Hubs SDK for JS: catch-up from earliest, latency and
# ingest with 4 live AMQP readers, beside the event stream (bench/README.md). AMQP_BENCH_ARGS="--fill 50000".
AMQP_BENCH_ARGS ?=
bench-amqp: build $(COMPAT)/node_modules/.package-lock.json
	$(BUILD_DIR)/amqp-bench --emulator $(BUILD_DIR)/iothub-emulator $(AMQP_BENCH_ARGS)

# Device AMQP against device MQTT in one run: acknowledged telemetry from 1 and 8 devices, C2D from the service link
# with full feedback, memory per idle AMQP/TLS device (bench/README.md). AMQP_DEVICE_BENCH_ARGS="--idle 0".
AMQP_DEVICE_BENCH_ARGS ?=
bench-amqp-devices: build
	$(BUILD_DIR)/amqp-device-bench --emulator $(BUILD_DIR)/iothub-emulator $(AMQP_DEVICE_BENCH_ARGS)

# The HTTPS front door: REST creates/s, direct-method round trip, latency beside idle sockets, memory per idle
# MQTT-over-WebSocket and MQTT/TLS device beside mosquitto (bench/README.md). REST_BENCH_ARGS="--repeats 1".
REST_BENCH_ARGS ?=
bench-rest: build
	$(BUILD_DIR)/rest-bench --emulator $(BUILD_DIR)/iothub-emulator $(REST_BENCH_ARGS)

# Runs every libFuzzer target (tests/fuzz) for FUZZ_SECONDS each, in its own clang build
# (build-fuzz); fails on any finding. One target: scripts/fuzz.sh mqtt_codec_fuzz.
FUZZ_SECONDS ?= 60
fuzz: setup
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz.sh

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_BUILD_DIR) build-fuzz
