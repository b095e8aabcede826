#!/bin/sh
# Installs the Debian packages graphgrad builds and tests with. Idempotent and
# quiet when everything is already there; uses sudo when not run as root.
set -eu

packages="cmake g++ make pkg-config ca-certificates
  libopenblas-dev libsleef-dev zlib1g-dev libpng-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev
  doctest-dev libbenchmark-dev clang libclang-rt-14-dev python3-matplotlib libonnx-dev libprotobuf-dev python3-onnx
  libvulkan-dev libvulkan-volk-dev glslang-tools mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  libopenmpi-dev openmpi-bin iproute2"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install_deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install_deps: done"
