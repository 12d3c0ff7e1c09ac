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
[ $fail -eq 0 ] && echo "layout ok"
exit $fail
