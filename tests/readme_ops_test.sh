#!/bin/sh
# The README's op table must be what the op table says (scripts/update_readme_ops.sh rewrites it).
#   readme_ops_test.sh OP_TABLE_MD README
set -eu
expected=$(mktemp)
actual=$(mktemp)
trap 'rm -f "$expected" "$actual"' EXIT
"$1" > "$expected"
sed -n '/<!-- op-table:begin -->/,/<!-- op-table:end -->/p' "$2" | sed '1d;$d' > "$actual"
if ! diff -u "$actual" "$expected"; then
  echo "FAIL: README.md's op table differs from the op table (above: - README, + table); run scripts/update_readme_ops.sh"
  exit 1
fi
echo "README op table: $(grep -c '^| `' "$expected") ops, as the table says"
