#!/usr/bin/env bash
# tools/dev.sh: set up, build, run and test syncline on Debian 12.
#
#   bash tools/dev.sh run  [node options]   install what is missing, build the node (only it),
#                                           start it
#   bash tools/dev.sh test [ctest options]  install what is missing, build with ASan+UBSan, run
#                                           every test (benchmarks at a tiny size included)
#   bash tools/dev.sh build                 install what is missing and build (release)
#   bash tools/dev.sh deb                   build (release) the node and package it:
#                                           build/release/syncline_<version>_<arch>.deb
#   bash tools/dev.sh bench [args]          build (release) and run the benchmarks at full size
#   bash tools/dev.sh fuzz [seconds [name...]]  build the libFuzzer targets (clang, ASan+UBSan)
#                                           and fuzz each for `seconds` (60); names: see
#                                           tests/fuzz/CMakeLists.txt (element_json, config, ...)
#   bash tools/dev.sh screenshot [file.png] the node's web page in headless Chromium, as the page
#                                           test sees it (docs/page.png by default)
#
# Idempotent: packages already installed are not touched, and apt is not even asked then.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# What the build needs, all Debian 12 packages.
build_packages=(
  g++ make cmake pkg-config ccache libssl-dev
  libcaf-dev librocksdb-dev libsimdjson-dev libcurl4-openssl-dev libxxhash-dev
  libboost-dev libboost-test-dev rapidjson-dev libcli11-dev libspdlog-dev
  libtomlplusplus-dev libsodium-dev libre2-dev
)
# What the tests and benchmarks need on top: the tools they compare syncline with.
# clang and its runtime libraries build the fuzz targets (libFuzzer); chromium runs the web page's
# test (headless), tmux the console's; dpkg-dev (dpkg-shlibdeps) checks the .deb; systemd
# (systemd-analyze, systemd-sysusers) the unit and its user (tools_deb_test, tools_install_test).
test_packages=(rsync rclone procps wrk nginx clang libclang-rt-14-dev openssl chromium tmux dpkg-dev
               systemd)

log() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }

install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    sudo=(sudo)
  fi
  log "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

jobs() { nproc 2>/dev/null || echo 2; }

build() {  # build <dir> <cmake args...>: everything (tests and benchmarks too)
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$(jobs)"
}

build_node() {  # build_node <dir> <cmake args...>: the syncline binary only
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$(jobs)" --target syncline_tool
}

release_dir=build/release
asan_dir=build/asan
fuzz_dir=build/fuzz

# The fuzz build keeps its own objects (clang): room for both in ccache unless set otherwise.
command -v ccache >/dev/null && [ -z "${CCACHE_MAXSIZE:-}" ] &&
  [ "$(ccache -k max_size 2>/dev/null || echo 5.0G)" = "5.0G" ] && export CCACHE_MAXSIZE=10G

build_fuzz() {  # build_fuzz <seconds per target>
  cmake -S . -B "$fuzz_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DSYNCLINE_FUZZ=ON -DSYNCLINE_FUZZ_SECONDS="$1" >/dev/null
  cmake --build "$fuzz_dir" -j"$(jobs)" --target fuzzers
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    install_missing "${build_packages[@]}"
    build_node "$release_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    log "starting the node (data in ./syncline-data, HTTP on 127.0.0.1:8460; Ctrl-C stops it)"
    exec "$release_dir/tools/syncline" node "$@"
    ;;
  test)
    install_missing "${build_packages[@]}" "${test_packages[@]}"
    build "$asan_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCLINE_SANITIZE=ON
    ctest --test-dir "$asan_dir" --output-on-failure -j"$(jobs)" "$@"
    # A short fuzz of every reader of untrusted input (seconds each; `fuzz` runs them longer).
    log "fuzz smoke: each target for 10 s"
    build_fuzz 10
    ctest --test-dir "$fuzz_dir" --output-on-failure -j"$(jobs)"
    ;;
  fuzz)
    install_missing "${build_packages[@]}" clang libclang-rt-14-dev
    seconds=${1:-60}
    [ $# -gt 0 ] && shift
    build_fuzz "$seconds"
    names=("$@")
    [ ${#names[@]} -eq 0 ] && names=(element_json search_text search_mongo config datasource_api
                                     http_request)
    for n in "${names[@]}"; do
      log "fuzzing $n for $seconds s (findings: $fuzz_dir/tests/fuzz/crash-*; new inputs: $fuzz_dir/tests/fuzz/found/${n}_fuzz)"
      ctest --test-dir "$fuzz_dir" --output-on-failure -R "^fuzz_${n}_fuzz\$"
    done
    ;;
  screenshot)
    install_missing "${build_packages[@]}" chromium
    out=$(realpath -m "${1:-docs/page.png}")
    # The test's own build (the one `test` makes): only the page test is built.
    cmake -S . -B "$asan_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCLINE_SANITIZE=ON >/dev/null
    cmake --build "$asan_dir" -j"$(jobs)" --target api_page_test
    SYNCLINE_SCREENSHOT="$out" "$asan_dir/tests/api/api_page_test" \
      --run_test=in_chromium_the_page_signs_in_shows_synced_and_pauses
    log "wrote $out"
    ;;
  build)
    install_missing "${build_packages[@]}"
    build "$release_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    ;;
  deb)
    # dpkg-dev: dpkg-shlibdeps computes the package's Depends from the binary.
    install_missing "${build_packages[@]}" dpkg-dev
    build_node "$release_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    (cd "$release_dir" && cpack -G DEB)
    log "$(ls "$release_dir"/syncline_*.deb) (install: apt install ./$release_dir/syncline_*.deb)"
    ;;
  bench)
    install_missing "${build_packages[@]}" "${test_packages[@]}"
    build "$release_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    for b in "$release_dir"/bench/*_bench; do
      log "$b $*"
      "$b" "$@"
    done
    ;;
  *)
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
