# gpu_check_pack.sh: the `pack` half of gpu_check.sh (its header says what a pack holds):
# builds the portable Release into build-gpucheck/ and fills DIR with all the run needs.
#
# Sourced, not run: `scripts/gpu_check.sh pack DIR` sources this file from beside itself and
# calls pack, so it uses gpu_check.sh's prog, die, BINS and MANIFEST_TAG (the run needs them
# too, hence they stay there) and adds the helpers only packing needs. The pack copies
# gpu_check.sh and gpu_check_summary.py, not this file: the run needs nothing from it.
# shellcheck shell=bash disable=SC2154  # prog: set by gpu_check.sh, which sources this file
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  echo "gpu_check_pack.sh is sourced by gpu_check.sh: run scripts/gpu_check.sh pack DIR" >&2
  exit 2
fi

# Libraries never packed (the system's own are used), and the MNIST files the pack carries.
SYSTEM_LIBS='^(linux-vdso|linux-gate|ld-linux[^ ]*|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libanl|libstdc\+\+|libgcc_s)\.so'
MNIST_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

# awk reads to the end: exiting at the match could end objdump by SIGPIPE mid-output, and
# under pipefail that failed pack (now and then, with libgfortran).
soname_of() { objdump -p "$1" 2>/dev/null | awk '$1 == "SONAME" && !n++ {print $2}'; }

# The file behind a library name, from the linker cache (x86-64 entries first).
find_lib() {
  local p
  p=$(/sbin/ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n && /x86-64/ {print $NF; exit}') || true
  [ -n "$p" ] || p=$(/sbin/ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n {print $NF; exit}') || true
  [ -n "$p" ] || for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -e "$d/$1" ] && { p=$d/$1; break; }
  done
  echo "$p"
}

# A folder's size: its bytes, or its disk blocks where those are more.
dir_bytes() {
  local b k
  b=$(du -sb "$1" | cut -f1)
  k=$(($(du -sk "$1" | cut -f1) * 1024))
  echo $((b > k ? b : k))
}
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }

pack() {
  [ $# -eq 1 ] || die "usage: $prog pack DIR"
  local dir root build limit_mib limit
  dir=$(realpath -m "$1")  # absolute: the closure check below runs from inside it
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  [ -f "$root/CMakeLists.txt" ] && [ -d "$root/backends/vulkan" ] || die "pack runs from a graphgrad checkout (scripts/gpu_check.sh)"
  build=$root/build-gpucheck
  limit_mib=${GG_PACK_LIMIT_MIB:-60}
  limit=$((limit_mib * 1048576))
  for f in "${MNIST_FILES[@]}"; do
    [ -f "$root/data/mnist/$f" ] || die "$root/data/mnist/$f is missing: run scripts/fetch_mnist.sh first"
  done
  for t in cmake strip objdump ldd du git; do command -v "$t" >/dev/null || die "pack needs $t"; done
  # DIR is emptied: only when it is new, empty, or an earlier pack.
  if [ -e "$dir" ]; then
    [ -d "$dir" ] || die "$dir exists and is not a folder"
    if [ -n "$(ls -A "$dir")" ] && ! head -n1 "$dir/MANIFEST" 2>/dev/null | grep -q "^$MANIFEST_TAG"; then
      die "$dir is not empty and holds no earlier pack (no MANIFEST): not touching it"
    fi
  fi

  echo "$prog: configuring and building ${BINS[*]} in $build (Release, portable)"
  # GRAPHGRAD_MNIST_DIR as the relative STRING "mnist": gg_tests then looks for the MNIST files
  # in ./mnist, and the run starts it in DIR, so the parity training case uses real images.
  mkdir -p "$build"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGRAPHGRAD_NATIVE=OFF -DGRAPHGRAD_MPI=OFF \
    -DGRAPHGRAD_VULKAN=ON -DGRAPHGRAD_BENCH=ON -DGRAPHGRAD_TESTS=ON -DGRAPHGRAD_ONNX=OFF \
    -UGRAPHGRAD_MNIST_DIR -DGRAPHGRAD_MNIST_DIR:STRING=mnist >"$build/gpu_check-configure.log" 2>&1 ||
    { tail -n 30 "$build/gpu_check-configure.log" >&2; die "configure failed (log: $build/gpu_check-configure.log)"; }
  [ -d "$build/bench" ] ||
    die "Google Benchmark was not found (libbenchmark-dev): bench_ops and bench_train cannot be built"
  cmake --build "$build" -j"${GG_JOBS:-2}" --target "${BINS[@]}"

  rm -rf "$dir"
  mkdir -p "$dir/bin" "$dir/lib" "$dir/mnist"
  local b libs name path real so
  for b in "${BINS[@]}"; do
    strip --strip-all -o "$dir/bin/$b" "$build/bin/$b"
  done
  # Every library the binaries load (ldd gives the whole closure), but glibc, libstdc++ and libgcc.
  libs=$(cd "$build/bin" && ldd "${BINS[@]}") || die "ldd failed on ${BINS[*]}"
  if grep -q 'not found' <<<"$libs"; then grep 'not found' <<<"$libs" >&2; die "a library of the binaries is not found here"; fi
  while read -r name path; do
    [[ $name =~ $SYSTEM_LIBS ]] && continue
    real=$(readlink -f "$path")
    so=$(soname_of "$real"); so=${so:-$name}
    [ -f "$dir/lib/$so" ] || cp "$real" "$dir/lib/$so"
  done < <(awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' <<<"$libs" | sort -u)
  # The Vulkan loader: volk dlopen()s libvulkan.so.1 at run time, so ldd does not list it.
  path=$(find_lib libvulkan.so.1)
  [ -n "$path" ] || die "libvulkan.so.1 not found here (libvulkan1)"
  cp "$(readlink -f "$path")" "$dir/lib/libvulkan.so.1"
  libs=$(ldd "$dir/lib/libvulkan.so.1")
  while read -r name path; do
    [[ $name =~ $SYSTEM_LIBS ]] || [ -f "$dir/lib/$name" ] || cp "$(readlink -f "$path")" "$dir/lib/$name"
  done < <(awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' <<<"$libs")
  # glvnd's dispatch libraries: the NVIDIA ICD (libGLX_nvidia.so.0) needs them, and
  # a machine with the driver's libraries alone lacks them (vkCreateInstance
  # then finds no driver).
  for name in libGLdispatch.so.0 libGLX.so.0; do
    path=$(find_lib "$name")
    [ -n "$path" ] && [ ! -f "$dir/lib/$name" ] && cp "$(readlink -f "$path")" "$dir/lib/$name"
  done
  chmod 644 "$dir/lib/"*
  # Check the closure: with only lib/ added, nothing is missing.
  libs=$(cd "$dir/bin" && LD_LIBRARY_PATH="$dir/lib" ldd "${BINS[@]}" "$dir/lib/"*.so*)
  if grep -q 'not found' <<<"$libs"; then grep 'not found' <<<"$libs" >&2; die "the packed libraries are incomplete"; fi

  # Libraries over 8 MiB go xz-compressed (the run unpacks them into its temporary folder):
  # Debian's OpenBLAS, with a kernel set for every CPU, is 36 MiB, 4 MiB compressed.
  if command -v xz >/dev/null; then
    for path in "$dir/lib/"*; do
      (($(stat -c %s "$path") > 8388608)) || continue
      xz -T"${GG_JOBS:-2}" -6 "$path" || die "xz failed on $path"
    done
  fi
  cp "${MNIST_FILES[@]/#/$root/data/mnist/}" "$dir/mnist/"
  cp "$root/scripts/torch_mnist_cuda.py" "$dir/"
  cp "$root/scripts/gpu_check.sh" "$root/scripts/gpu_check_summary.py" "$dir/"
  chmod 755 "$dir/gpu_check.sh" "$dir/bin/"*

  # The validation layer, if it fits: as it is, else xz-compressed (the run unpacks it).
  local layer_note json lib_name lib_path need size
  json=/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json
  layer_note="not packed: $json not found (vulkan-validationlayers)"
  if [ -f "$json" ]; then
    lib_name=$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "$json" | head -n1)
    case $lib_name in /*) lib_path=$lib_name ;; *) lib_path=$(find_lib "$(basename "$lib_name")") ;; esac
    if [ -z "$lib_path" ] || [ ! -f "$lib_path" ]; then
      layer_note="not packed: its library ${lib_name:-?} not found"
    else
      size=$(dir_bytes "$dir")
      need=$(stat -Lc %s "$lib_path")
      mkdir -p "$dir/vklayer"
      sed 's|"library_path": *"[^"]*"|"library_path": "./libVkLayer_khronos_validation.so"|' "$json" \
        >"$dir/vklayer/VkLayer_khronos_validation.json"
      if ((size + need + 65536 < limit)); then
        cp "$lib_path" "$dir/vklayer/libVkLayer_khronos_validation.so"
        layer_note="packed ($(mib "$need") MiB)"
      elif command -v xz >/dev/null && xz -T"${GG_JOBS:-2}" -9 -c "$lib_path" >"$dir/vklayer/libVkLayer_khronos_validation.so.xz" &&
        (($(dir_bytes "$dir") + 65536 < limit)); then
        layer_note="packed xz-compressed ($(mib "$(stat -c %s "$dir/vklayer/libVkLayer_khronos_validation.so.xz")") MiB; $(mib "$need") MiB unpacked)"
      else
        local xz_note="no xz here"
        [ -f "$dir/vklayer/libVkLayer_khronos_validation.so.xz" ] &&
          xz_note="$(mib "$(stat -c %s "$dir/vklayer/libVkLayer_khronos_validation.so.xz")") MiB xz-compressed"
        rm -rf "$dir/vklayer"
        layer_note="not packed: $(mib "$need") MiB ($xz_note) on the $(mib "$size") MiB of the rest would exceed $limit_mib MiB"
      fi
    fi
  fi

  # MANIFEST, then the size check (the MANIFEST counted).
  local commit
  commit=$(git -C "$root" rev-parse HEAD)
  [ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ] || commit="$commit (with uncommitted changes)"
  {
    echo "$MANIFEST_TAG"
    echo "commit: $commit ($(git -C "$root" rev-parse --abbrev-ref HEAD))"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "built on: $(uname -n), $(uname -m), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(ldd --version | head -n1)"
    echo "cmake: -DCMAKE_BUILD_TYPE=Release -DGRAPHGRAD_NATIVE=OFF -DGRAPHGRAD_MPI=OFF -DGRAPHGRAD_VULKAN=ON -DGRAPHGRAD_ONNX=OFF -DGRAPHGRAD_MNIST_DIR:STRING=mnist"
    echo "validation layer: $layer_note"
    echo "run: bash DIR/gpu_check.sh run DIR OUT"
    echo "files (bytes):"
    (cd "$dir" && find . -type f ! -name MANIFEST -printf '%P\n' | sort | while read -r f; do printf '%10d  %s\n' "$(stat -c %s "$f")" "$f"; done)
  } >"$dir/MANIFEST"
  size=$(dir_bytes "$dir")
  echo "     total: $size bytes ($(mib "$size") MiB, limit $limit_mib MiB)" >>"$dir/MANIFEST"
  size=$(dir_bytes "$dir")
  cat "$dir/MANIFEST"
  du -sh "$dir"
  if ((size >= limit)); then
    die "$dir is $(mib "$size") MiB, over the $limit_mib MiB limit"
  fi
  echo "$prog: packed $dir ($(mib "$size") MiB); on the GPU machine: bash $dir/gpu_check.sh run $dir OUT"
}
