#!/bin/bash
# Install the build into a scratch prefix and use it as a consumer would:
# pkg-config only, the shared library by its SONAME, the tool, the man page
# and the Python module.  Usage: check_install.sh BUILD_DIR SOURCE_DIR PYTHON
set -euo pipefail
build=$1 src=$2 python=${3:-/usr/bin/python3}
prefix=$(mktemp -d /tmp/vmmk-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name 'libvmmk.so.0' -printf '%h\n' | head -n1)
[ -n "$libdir" ] || fail "libvmmk.so.0 not installed"
[ -L "$libdir/libvmmk.so" ] || fail "libvmmk.so development link missing"
soname=$(readelf -d "$libdir/libvmmk.so.0" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libvmmk.so.0 ] || fail "SONAME is '$soname'"

# Only vmmk_* is exported, and no internal vmmk__ helper.
bad=$(nm -D --defined-only "$libdir/libvmmk.so.0" | awk '$2 ~ /[TDBR]/ {print $3}' |
      sed 's/@.*//' | grep -v '^vmmk_' || true)
[ -z "$bad" ] || fail "symbols outside vmmk_*: $bad"
! nm -D --defined-only "$libdir/libvmmk.so.0" | grep -q ' vmmk__' || fail "internal symbols exported"

for h in vmmk.h common.h vm.h flavor.h netmap.h image.h copier.h vsphere.h; do
    [ -f "$prefix/include/vmmk/$h" ] || fail "header vmmk/$h not installed"
done
[ -f "$prefix/share/man/man1/vmmk.1" ] || fail "man page not installed"
man -l "$prefix/share/man/man1/vmmk.1" >/dev/null 2>&1 || [ ! -x /usr/bin/man ] || fail "man page does not render"

export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion libvmmk)" = "$("$prefix/bin/vmmk" --version | awk '{print $2}')" ] ||
    fail "pkg-config version differs from vmmk --version"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror -o "$prefix/consumer" "$src/tests/install/consumer.c" \
    $(pkg-config --cflags --libs libvmmk)
out=$(LD_LIBRARY_PATH=$libdir "$prefix/consumer" "$src/examples/vm.json" "$src/examples/flavors.json")
echo "$out"
case "$out" in "libvmmk "*"web-01 (prod) -> "*) ;; *) fail "consumer printed '$out'";; esac

# The installed tool finds the installed library by itself (RPATH).
"$prefix/bin/vmmk" --version | grep -q '^vmmk [0-9]' || fail "installed vmmk does not run"

# The Python module, imported from the prefix alone.
if [ "${VMMK_PYTHON:-ON}" = ON ]; then
    pydir=$(find "$prefix" -type d -name vmmk -path '*-packages/*' | head -n1)
    [ -n "$pydir" ] || fail "Python package not installed"
    ver=$(cd / && PYTHONPATH=$(dirname "$pydir") "$python" -c 'import vmmk; print(vmmk.__version__)')
    [ "$ver" = "$(pkg-config --modversion libvmmk)" ] || fail "python vmmk.__version__ is '$ver'"
fi
echo "install check passed: $prefix"
