#!/usr/bin/env bash
# tests/layout_test.sh: the include rules of ARCHITECTURE.md, checked on every test run.
#   storage ─┐
#            ├─> actors ──> runtime ──> tools
#   connectors┘
# RocksDB only in storage/ (and bench/, whose baselines measure raw RocksDB), Boost.Beast only in
# runtime/http_*.cpp, libcurl only in connectors/.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fail=0
violations() {  # violations <description> <grep -E pattern> <paths...>
  local what=$1 pattern=$2
  shift 2
  local hits
  hits=$(grep -rnE "$pattern" "$@" --include='*.hpp' --include='*.cpp' 2>/dev/null || true)
  if [ -n "$hits" ]; then
    echo "layout violation: $what"
    echo "$hits"
    fail=1
  fi
}
violations "RocksDB outside storage/ and bench/" '#include <rocksdb/' connectors actors runtime tools tests
violations "storage/ includes a folder above it" '#include "(connectors|actors|runtime|tools)/' storage
violations "connectors/ includes a folder it must not" '#include "(storage|actors|runtime|tools)/' connectors
violations "actors/ includes runtime/ or tools/" '#include "(runtime|tools)/' actors
violations "runtime/ includes tools/" '#include "tools/' runtime
violations "libcurl outside connectors/" '#include <curl/' storage actors runtime tools
beast=$(grep -rlE '#include <boost/beast' storage connectors actors runtime tools 2>/dev/null |
        grep -vE '^runtime/http_[a-z_]+\.cpp$' || true)
if [ -n "$beast" ]; then
  echo "layout violation: Boost.Beast outside runtime/http_*.cpp:"
  echo "$beast"
  fail=1
fi
# HTTP renderings of the node's own routes live in runtime/ (docs/layout.md).
violations "Prometheus text outside runtime/" '# (TYPE|HELP) ' storage connectors actors tools
violations "a datasource meta key prefix outside storage/datasource_store.cpp" \
  '"(ds-access/|xfer/)"' connectors actors runtime tools
# runtime/ is the only HTTP layer: actors answer in their own terms (api_answer: JSON, a kind,
# an error code) and never see a method, a header, a cookie or a status code. Comments may
# name the status an error becomes.
http=$(grep -rnE 'Set-Cookie|Cookie|"(Allow|Location)"|Content-Type|content_type|uint16_t status|\.method\b|"(GET|HEAD|POST|PUT|PATCH|DELETE)"|\bstatus *[=(] *[1-5][0-9][0-9]\b' \
         actors --include='*.hpp' --include='*.cpp' | grep -vE '^[^:]+:[0-9]+: *//' || true)
if [ -n "$http" ]; then
  echo "layout violation: HTTP terms in actors/ (they belong to runtime/):"
  echo "$http"
  fail=1
fi
# One name, one header: two headers of one name (two config.hpp) read as one in reviews. Each
# layer's error codes are its error.hpp, by design.
dups=$(find storage connectors actors runtime tools -name '*.hpp' -printf '%f\n' | sort |
       uniq -d | grep -vx 'error.hpp' || true)
if [ -n "$dups" ]; then
  echo "layout violation: headers of the same name in two folders: $dups"
  fail=1
fi
# No source file over 800 lines (a file that grows past it is split by what it does).
declare -A too_long=()
for f in $(find storage connectors actors runtime tools -name '*.cpp' -o -name '*.hpp'); do
  n=$(wc -l < "$f")
  limit=${too_long[$f]:-800}
  if [ "$n" -gt "$limit" ]; then
    echo "layout violation: $f has $n lines (at most $limit)"
    fail=1
  fi
done
[ $fail -eq 0 ] && echo "layout ok"
exit $fail
