#!/usr/bin/env bash
# Installs the Debian 12 packages the emulator builds, runs and tests with.
# The one place that lists them: CI, the Dockerfile and the README all call this.
# Idempotent: installs only what is missing; uses sudo when not root.
#   scripts/setup.sh            build + runtime + test packages
#   scripts/setup.sh --runtime  only what the built binary needs to run (Docker's final stage)
set -euo pipefail

runtime_packages=(
  ca-certificates
  libssl3
  libsqlite3-0
  libcpp-httplib0.11
  libspdlog1.10
  libfmt9
)
build_packages=(
  build-essential
  cmake
  pkg-config
  git
  libssl-dev
  libasio-dev
  libcpp-httplib-dev
  libsqlite3-dev
  nlohmann-json3-dev
  libcli11-dev
  libspdlog-dev
  libfmt-dev
  doctest-dev
  nodejs
  npm
  openssl
  curl
)

if [[ "${1:-}" == "--runtime" ]]; then
  wanted=("${runtime_packages[@]}")
else
  wanted=("${runtime_packages[@]}" "${build_packages[@]}")
fi

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm may come from elsewhere than Debian (as on the CI machines): a working `node` is enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/#nodejs/}"); missing=("${missing[@]/#npm/}")
fi
read -r -a missing <<<"${missing[*]}"

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all packages present"
  exit 0
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
