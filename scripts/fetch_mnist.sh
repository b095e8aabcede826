#!/bin/sh
# Fetches the four MNIST .gz files into a folder and verifies their sha256.
# Source: --from DIR, else $GRAPHGRAD_MNIST_MIRROR, else ../shared/data/mnist beside
# the repository when present, else a download of the originals.
set -eu

prog=$(basename "$0")
root=$(cd "$(dirname "$0")/.." && pwd)
url_base=https://ossci-datasets.s3.amazonaws.com/mnist
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

usage() {
  cat <<EOF
Usage: scripts/fetch_mnist.sh [--from DIR] [--dest DIR]

Puts the four MNIST files (*-idx?-ubyte.gz) into DIR (default: data/mnist in
the repository) and checks each one's sha256. Files already there with a good
checksum are kept; bad ones are replaced.

  --from DIR   copy from a local mirror (default: \$GRAPHGRAD_MNIST_MIRROR, else
               ../shared/data/mnist beside the repository when it exists,
               else download from $url_base)
  --dest DIR   where the files go (default: $root/data/mnist)
  -h, --help   show this help
EOF
}

die() {
  echo "$prog: $*" >&2
  exit 1
}

from=${GRAPHGRAD_MNIST_MIRROR:-}
# A machine without internet may keep a mirror beside the checkout (this
# project's CI does): use it when nothing else was named.
if [ -z "$from" ] && [ -f "$root/../shared/data/mnist/train-images-idx3-ubyte.gz" ]; then
  from=$root/../shared/data/mnist
fi
dest=$root/data/mnist
while [ $# -gt 0 ]; do
  case $1 in
    --from | --dest)
      if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a directory"; fi
      if [ "$1" = --from ]; then from=$2; else dest=$2; fi
      shift 2 ;;
    --from=*) from=${1#--from=}; shift ;;
    --dest=*) dest=${1#--dest=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$prog: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

# The rebuilt train-images of the project's local mirror differs from the
# original (see its README), so both checksums are accepted for that file.
good_sum() {  # good_sum NAME SHA256
  case "$1:$2" in
    train-images-idx3-ubyte.gz:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609) ;;
    train-images-idx3-ubyte.gz:db67958382066d1b02829fd1d6b28d2f9e95d2fea8da93426eae423275b3ea21) ;;
    train-labels-idx1-ubyte.gz:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c) ;;
    t10k-images-idx3-ubyte.gz:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6) ;;
    t10k-labels-idx1-ubyte.gz:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6) ;;
    *) return 1 ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

download() {  # download URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    die "neither curl nor wget is installed; use --from DIR"
  fi
}

if [ -n "$from" ] && [ ! -d "$from" ]; then die "$from: no such directory"; fi
mkdir -p "$dest"

# Files arrive as a hidden .part beside the target and are renamed only once
# verified, so an interrupted run never leaves a bad file under the real name.
part=
trap 'if [ -n "$part" ]; then rm -f "$part"; fi' EXIT
trap 'exit 130' INT TERM

for name in $files; do
  target=$dest/$name
  action=fetched
  if [ -f "$target" ]; then
    if good_sum "$name" "$(sha256_of "$target")"; then
      echo "ok       $name (already present)"
      continue
    fi
    action=replaced
  fi

  part=$dest/.$name.part
  if [ -n "$from" ]; then
    src=$from/$name
    [ -f "$src" ] || die "$src: missing"
    cat "$src" >"$part"  # not cp: a read-only mirror would give read-only copies
  else
    src=$url_base/$name
    download "$src" "$part" || die "$src: download failed"
  fi
  sum=$(sha256_of "$part")
  good_sum "$name" "$sum" || die "$src: sha256 mismatch (got $sum)"
  mv -f "$part" "$target"
  part=
  if [ "$action" = replaced ]; then
    echo "replaced $name (the old copy had a bad checksum)"
  else
    echo "fetched  $name"
  fi
done
