#!/usr/bin/env bash
# The installed package as an outside project sees it: `cmake --install` into a
# temporary prefix, then configure, build and run examples/outside_project
# against that prefix alone, and check the pkg-config file.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
for f in include/graphgrad/graph/graph.h include/graphgrad/backends/backend.h include/graphgrad/frontends/sequential.h \
         lib/cmake/graphgrad/graphgradConfig.cmake lib/cmake/graphgrad/graphgradConfigVersion.cmake \
         lib/pkgconfig/graphgrad.pc bin/mnist; do
  [ -e "$tmp/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
# Backend internals stay out of the installed headers.
if [ -e "$tmp/prefix/include/graphgrad/backends/cpu" ]; then echo "FAIL: backend internals installed"; exit 1; fi

cmake -S "$src/examples/outside_project" -B "$tmp/outside" -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/configure.log" ||
  { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/outside" -j2 > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/outside/two_layer_net"
# A user-defined op: a CPU kernel and a Vulkan kernel from the project's own SPIR-V.
"$tmp/outside/user_op" "$tmp/outside/swish.spv"

# pkg-config sees the same package.
if command -v pkg-config > /dev/null; then
  flags=$(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs graphgrad)
  # shellcheck disable=SC2086
  "${CXX:-c++}" -o "$tmp/two_layer_net_pc" "$src/examples/outside_project/two_layer_net.cpp" $flags ||
    { echo "FAIL: building with pkg-config graphgrad: $flags"; exit 1; }
  "$tmp/two_layer_net_pc" | tail -1
  echo "pkg-config: graphgrad $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --modversion graphgrad)"
fi
echo "installed package: ok"
