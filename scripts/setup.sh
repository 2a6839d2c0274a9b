#!/usr/bin/env bash
# Installs the Debian 12 packages the emulator builds, runs and tests with.
# The one place that lists them: the Makefile (so CI and the README), and the
# Dockerfile all call this. Idempotent: installs only what is missing; uses sudo
# when not root.
#   scripts/setup.sh            everything: build, run and test
#   scripts/setup.sh --build    what building and running need (Docker's build stage)
#   scripts/setup.sh --runtime  what the built binary needs to run (Docker's final stage)
set -euo pipefail

runtime_packages=(
  ca-certificates
  curl                # the Docker health check
  libssl3
  libsqlite3-0
  libcpp-httplib0.11  # the iothub CLI's HTTP client
  libhttp-parser2.9   # RESTinio's HTTP parser (port 443)
  libspdlog1.10
  libfmt9
  libmosquitto1
  libqpid-proton-cpp12  # AMQP 1.0 (5671, 5672, AMQP over WebSockets)
  libqpid-proton11
)
build_packages=(
  build-essential
  cmake
  pkg-config
  libssl-dev
  libasio-dev
  libcpp-httplib-dev  # the HTTP client of the CLI, the tests and the benchmarks
  librestinio-dev     # the HTTPS and WebSocket server on 443 (header-only; pulls libhttp-parser-dev)
  libhttp-parser-dev
  libsqlite3-dev
  nlohmann-json3-dev
  libcli11-dev
  libspdlog-dev
  libfmt-dev
  doctest-dev
  libmosquitto-dev    # the bundled device client and the benchmark's load tool
  libqpid-proton-cpp12-dev  # AMQP 1.0 as a protocol engine (proton::io::connection_driver)
  libqpid-proton11-dev
)
test_packages=(
  nodejs              # the official Azure SDKs (tests/compat)
  npm
  libcap2-bin         # setcap, so a non-root `make test` can bind port 443
  openssl
  mosquitto-clients   # mosquitto_pub in the MQTT integration tests
  mosquitto           # the benchmark's reference broker (not started as a service by the tests)
  clang               # make fuzz: the libFuzzer targets (tests/fuzz)
  libclang-rt-14-dev  # libFuzzer and the sanitizers' runtimes for clang 14
)

case "${1:-}" in
  --runtime) wanted=("${runtime_packages[@]}") ;;
  --build) wanted=("${runtime_packages[@]}" "${build_packages[@]}") ;;
  "") wanted=("${runtime_packages[@]}" "${build_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: $0 [--build|--runtime]" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  # Node.js may come from elsewhere than Debian (as on these machines): a working one is enough.
  if [[ "$p" == nodejs || "$p" == npm ]] && command -v "${p/nodejs/node}" >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all packages present"
  exit 0
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
