#!/usr/bin/env bash
# tests/tools/deb_test.sh <build dir> <version>: `cpack -G DEB` of this build (no compiling: the
# node must be built, and install does not build), then what the package holds: its control
# fields (name, version, Depends from dpkg-shlibdeps), its files, its conffile and maintainer
# scripts; the extracted binary runs, and apt finds every dependency here (a Debian 12 that
# builds syncline). The test build is sanitized, so its Depends name libasan too; the
# release package does not (bash tools/dev.sh deb).
set -euo pipefail
build=$1
version=$2
fail=0
check() {  # check <what> <command...>: runs the command, reports a failure and goes on
  local what=$1
  shift
  if ! "$@"; then
    echo "FAIL: $what"
    fail=1
  fi
}
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (dpkg-dev; tools/dev.sh installs it)"; exit 1; }
done
[ -x "$build/tools/syncline" ] || { echo "FAIL: $build/tools/syncline is not built"; exit 1; }

out=$(mktemp -d "${TMPDIR:-/tmp}/syncline-deb-XXXXXX")
trap 'rm -rf "$out"' EXIT
start=$SECONDS
if ! (cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1); then
  echo "FAIL: cpack -G DEB"
  cat "$out/cpack.log"
  exit 1
fi
echo "cpack took $((SECONDS - start)) s"
arch=$(dpkg --print-architecture)
deb=$out/syncline_${version}_${arch}.deb
[ -f "$deb" ] || { echo "FAIL: no $deb"; ls "$out"; cat "$out/cpack.log"; exit 1; }
dpkg-deb -I "$deb"

field() { dpkg-deb -f "$deb" "$1"; }
check "Package is syncline" [ "$(field Package)" = syncline ]
check "Version is $version" [ "$(field Version)" = "$version" ]
check "Architecture is $arch" [ "$(field Architecture)" = "$arch" ]
check "a Maintainer" [ -n "$(field Maintainer)" ]
check "a Description" [ -n "$(field Description)" ]
depends=$(field Depends)
for lib in libc6 libstdc++6 librocksdb libcaf-core libcurl4 libssl3 libsodium libre2 libspdlog; do
  check "Depends names $lib: $depends" grep -q "$lib" <<<"$depends"
done

dpkg-deb -c "$deb" | awk '{print $6}' >"$out/files"
for f in ./usr/bin/syncline ./usr/lib/systemd/system/syncline.service ./etc/syncline/syncline.toml \
         ./usr/lib/sysusers.d/syncline.conf ./usr/share/doc/syncline/README.md \
         ./usr/share/doc/syncline/install.md ./usr/share/doc/syncline/examples/syncline.toml; do
  check "the package holds $f" grep -qx "$f" "$out/files"
done
check "nothing under /usr/local or the build directory" \
  bash -c "! grep -E '^\./usr/local/|$build' '$out/files'"

dpkg-deb -e "$deb" "$out/control"
check "conffiles names /etc/syncline/syncline.toml" grep -qx /etc/syncline/syncline.toml "$out/control/conffiles"
for s in postinst prerm postrm; do
  check "$s is executable" [ -x "$out/control/$s" ]
  check "$s is valid sh" sh -n "$out/control/$s"
done

dpkg-deb -x "$deb" "$out/root"
check "the unit runs /usr/bin/syncline with /etc/syncline/syncline.toml" \
  grep -qx 'ExecStart=/usr/bin/syncline node --config /etc/syncline/syncline.toml --data-dir /var/lib/syncline' \
  "$out/root/usr/lib/systemd/system/syncline.service"
check "the extracted binary runs" bash -c "'$out/root/usr/bin/syncline' --version | grep -qx 'syncline $version'"

# Would it install here? apt resolves its Depends against this Debian 12 (what is installed,
# and the archive when its lists are there) without changing anything.
if command -v apt-get >/dev/null; then
  check "apt-get install --simulate finds every dependency" \
    bash -c "apt-get install -s --no-install-recommends '$deb' >'$out/apt.log' 2>&1 || { cat '$out/apt.log'; false; }"
else
  echo "no apt-get: the dependencies were not resolved"
fi

[ $fail -eq 0 ] && echo "deb ok: $(basename "$deb"), $(du -h "$deb" | cut -f1)"
exit $fail
