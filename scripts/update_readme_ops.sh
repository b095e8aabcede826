#!/bin/sh
# Writes the op table that build/bin/op_table_md prints into README.md,
# between the op-table markers (the readme_ops test checks that they agree).
#   scripts/update_readme_ops.sh [BUILD_DIR=build]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
"$build/bin/op_table_md" > "$build/op_table.md"
python3 - "$build/op_table.md" <<'PY'
import sys
table = open(sys.argv[1]).read()
readme = open("README.md").read()
begin, end = "<!-- op-table:begin -->\n", "<!-- op-table:end -->"
a, b = readme.index(begin) + len(begin), readme.index(end)
open("README.md.tmp", "w").write(readme[:a] + table + readme[b:])
PY
mv README.md.tmp README.md
