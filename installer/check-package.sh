#!/usr/bin/env bash
# Build and check the Linux packages, then install the .deb, smoke-test it and purge it again.
#
#   installer/check-package.sh BUILD_DIR
#
# BUILD_DIR is a configured (ideally Release) build tree of this project. Run as root on a Debian
# or Ubuntu machine (CI): the script installs and purges the package `punchline` on the host.
# Needs: cmake/cpack, dpkg-dev, file, lintian, desktop-file-utils, appstream, apt, and
# jq (optional; grep is used without it). Exit status 0 = every check passed.
#
# Steps: build; cpack -G DEB and -G TGZ; control fields and file list; lintian (no errors, no
# warnings: unfixable ones are overridden in the package itself); desktop-file-validate;
# appstreamcli validate --no-net (no errors); versions in metainfo, changelog and man pages equal
# the project version; apt-get install ./punchline_<v>_<arch>.deb; punchline-cli --version
# (and, as a warning only, punchline --version);
# one loopback chat between two installed punchline-cli; apt-get purge; nothing left behind.
set -uo pipefail

PACKAGE=punchline
APP_ID=io.github.punchline.Punchline

fail() { echo "check-package: FAIL: $*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }
ok() { echo "    ok: $*"; }

[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
[[ -d $1 ]] || fail "no such directory: $1"
BUILD_DIR=$(cd "$1" && pwd)
[[ -f $BUILD_DIR/CPackConfig.cmake ]] || fail "$BUILD_DIR is not a configured build tree (no CPackConfig.cmake)"
[[ $(id -u) -eq 0 ]] || fail "run as root: the script installs and purges the package"
for tool in cmake cpack dpkg-deb dpkg-query apt-get lintian desktop-file-validate appstreamcli file; do
    command -v "$tool" >/dev/null || fail "missing tool: $tool"
done
HAVE_JQ=0
command -v jq >/dev/null && HAVE_JQ=1

VERSION=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD_DIR/CPackConfig.cmake")
[[ -n $VERSION ]] || fail "cannot read CPACK_PACKAGE_VERSION from $BUILD_DIR/CPackConfig.cmake"
ARCH=$(dpkg --print-architecture)
DEB=$BUILD_DIR/${PACKAGE}_${VERSION}_${ARCH}.deb

WORK=$(mktemp -d /tmp/check-package.XXXXXX)
chmod 755 "$WORK"   # the installed programs run as root, but keep it readable for apt's _apt user
INSTALLED_BY_US=0
cleanup() {
    local rc=$?
    if [[ $INSTALLED_BY_US -eq 1 ]]; then
        echo "check-package: purging $PACKAGE after a failure" >&2
        DEBIAN_FRONTEND=noninteractive apt-get purge -y "$PACKAGE" >/dev/null 2>&1 || true
    fi
    if [[ $rc -eq 0 ]]; then
        rm -rf "$WORK"
    else
        echo "check-package: logs and extracted files kept in $WORK" >&2
    fi
}
trap cleanup EXIT

# ------------------------------------------------------------------------------------------------
step "build $BUILD_DIR"
cmake --build "$BUILD_DIR" --parallel || fail "build failed"

step "cpack -G DEB and -G TGZ (version $VERSION)"
rm -f "$BUILD_DIR/${PACKAGE}"_*.deb "$BUILD_DIR/${PACKAGE}"-*.tar.gz
(cd "$BUILD_DIR" && cpack -G DEB) || fail "cpack -G DEB failed"
(cd "$BUILD_DIR" && cpack -G TGZ) || fail "cpack -G TGZ failed"
[[ -f $DEB ]] || fail "expected $DEB"
TGZ=$(find "$BUILD_DIR" -maxdepth 1 -name "${PACKAGE}-${VERSION}-*.tar.gz" | head -n1)
[[ -n $TGZ ]] || fail "expected $BUILD_DIR/${PACKAGE}-${VERSION}-<system>.tar.gz"
ok "$DEB"
ok "$TGZ"

step "control fields"
dpkg-deb --info "$DEB"
field() { dpkg-deb --field "$DEB" "$1"; }
[[ $(field Package) == "$PACKAGE" ]] || fail "Package is '$(field Package)'"
[[ $(field Version) == "$VERSION" ]] || fail "Version is '$(field Version)', not $VERSION"
[[ $(field Section) == net ]] || fail "Section is '$(field Section)', not net"
[[ $(field Priority) == optional ]] || fail "Priority is '$(field Priority)', not optional"
[[ -n $(field Maintainer) ]] || fail "no Maintainer"
[[ -n $(field Homepage) ]] || fail "no Homepage"
[[ $(field Depends) == *libqt6core6* ]] || fail "Depends lacks libqt6core6 (shlibdeps did not run?): $(field Depends)"
[[ $(dpkg-deb --field "$DEB" Description | wc -l) -ge 3 ]] || fail "no long description"
ok "fields"

step "package contents"
ROOT=$WORK/root
dpkg-deb --extract "$DEB" "$ROOT" || fail "cannot extract $DEB"
expect=(
    usr/bin/punchline usr/bin/punchline-cli
    usr/share/man/man1/punchline.1.gz usr/share/man/man1/punchline-cli.1.gz
    "usr/share/applications/$APP_ID.desktop" "usr/share/metainfo/$APP_ID.metainfo.xml"
    "usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
    "usr/share/doc/$PACKAGE/copyright" "usr/share/doc/$PACKAGE/changelog.gz"
    "usr/share/lintian/overrides/$PACKAGE"
)
for size in 16 22 24 32 48 64 128 256; do
    expect+=("usr/share/icons/hicolor/${size}x${size}/apps/$APP_ID.png")
done
for f in "${expect[@]}"; do
    [[ -f $ROOT/$f ]] || fail "missing in the package: /$f"
done
for exe in punchline punchline-cli; do
    [[ $(file "$ROOT/usr/bin/$exe") == *", stripped"* ]] || fail "/usr/bin/$exe is not stripped"
done
ok "${#expect[@]} expected files present, binaries stripped"
listing=$(tar -tzf "$TGZ") || fail "cannot list $TGZ"
grep -q "/bin/punchline-cli$" <<<"$listing" || fail "$TGZ has no bin/punchline-cli"
grep -q "/share/man/man1/punchline-cli.1.gz$" <<<"$listing" || fail "$TGZ has no man page"
ok "tar.gz contents"

step "lintian"
# Errors and warnings fail; info tags are shown. Overrides ship in the package, each with a reason.
lintian --fail-on error,warning --display-info "$DEB" || fail "lintian reported errors or warnings"
ok "lintian"

step "desktop-file-validate"
desktop-file-validate "$ROOT/usr/share/applications/$APP_ID.desktop" || fail "desktop entry invalid"
ok "desktop entry"

step "appstreamcli validate --no-net"
# appstreamcli exits non-zero on warnings too; only errors (E:) fail here, warnings are printed.
metainfo=$ROOT/usr/share/metainfo/$APP_ID.metainfo.xml
if ! out=$(appstreamcli validate --no-net --explain "$metainfo" 2>&1); then
    echo "$out"
    grep -q '^E:' <<<"$out" && fail "AppStream metainfo has errors"
    echo "    (warnings only: accepted)"
else
    echo "$out"
fi
ok "metainfo"

step "versions in metainfo, changelog and man pages = $VERSION"
release=$(grep -m1 -o '<release [^>]*version="[^"]*"' "$metainfo" | sed 's/.*version="\([^"]*\)"/\1/')
[[ $release == "$VERSION" ]] || fail "newest metainfo <release> is '$release': add release notes for $VERSION"
changelog=$(zcat "$ROOT/usr/share/doc/$PACKAGE/changelog.gz" | head -n1)
[[ $changelog == "$PACKAGE ($VERSION) "* ]] || fail "newest changelog entry is '$changelog': add one for $VERSION"
for page in punchline punchline-cli; do
    th=$(zcat "$ROOT/usr/share/man/man1/$page.1.gz" | grep -m1 '^\.TH ')
    [[ $th == *"\"Punchline $VERSION\""* ]] || fail "man page $page.1 does not carry version $VERSION: $th"
done
ok "versions"

# ------------------------------------------------------------------------------------------------
step "apt-get install $DEB"
status=$(dpkg-query -W -f='${db:Status-Status}' "$PACKAGE" 2>/dev/null || true)
if [[ -n $status && $status != not-installed ]]; then
    echo "    $PACKAGE is already on this machine ($status): purging it first"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y "$PACKAGE" || fail "cannot purge the old $PACKAGE"
fi
install_deb() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$DEB"; }
INSTALLED_BY_US=1
if ! install_deb; then
    echo "    install failed; refreshing the package lists and trying again"
    apt-get update || true
    install_deb || fail "apt-get install $DEB failed"
fi
dpkg-query -L "$PACKAGE" >"$WORK/files.list" || fail "dpkg -L $PACKAGE failed"
ok "installed ($(wc -l <"$WORK/files.list") paths)"

step "punchline-cli --version"
out=$(timeout 20 /usr/bin/punchline-cli --version 2>&1) || fail "punchline-cli --version exited $?: $out"
echo "    $out"
grep -qF "$VERSION" <<<"$out" || fail "punchline-cli --version does not print $VERSION"
ok "version $VERSION"

step "punchline --version (offscreen; a smoke test that the GUI starts with the package's dependencies)"
# Not a gate (the contract above is punchline-cli's): a failure here is reported, not fatal.
out=$(QT_QPA_PLATFORM=offscreen timeout 10 /usr/bin/punchline --version 2>&1)
rc=$?
printf "    %s\n" "$out"
if [[ $rc -eq 0 && $out == *"$VERSION"* ]]; then
    ok "version $VERSION"
else
    echo "    WARNING: punchline --version exited $rc without printing $VERSION (not counted as a failure)"
fi

step "loopback chat between two installed punchline-cli"
T=$WORK/chat
mkdir -p "$T"
peer() { # peer ME OTHER NAME
    timeout --kill-after=5 90 /usr/bin/punchline-cli --profile "$T/$1" --name "$3" --port 0 \
        --stun none --ip-echo none --dht none --write-code "$T/$1.code" --peer "@$T/$2.code" \
        --say "hello-from-$1" --exit-when-done --timeout 30 --json \
        </dev/null >"$T/$1.out" 2>"$T/$1.err"
}
peer a b A &
pid_a=$!
peer b a B &
pid_b=$!
rc_a=0; wait "$pid_a" || rc_a=$?
rc_b=0; wait "$pid_b" || rc_b=$?
for me in a b; do
    echo "    --- $me: stdout"; sed 's/^/    /' "$T/$me.out"
    echo "    --- $me: stderr"; sed 's/^/    /' "$T/$me.err"
done
[[ $rc_a -eq 0 ]] || fail "peer A exited with $rc_a"
[[ $rc_b -eq 0 ]] || fail "peer B exited with $rc_b"
got_message() { # got_message FILE TEXT: FILE has {"event":"message",...,"text":TEXT}
    if [[ $HAVE_JQ -eq 1 ]]; then
        [[ -n $(jq -R --arg text "$2" \
                 'fromjson? | select(type == "object" and .event == "message" and .text == $text)' "$1") ]]
    else
        # (not grep -q: with pipefail an early exit of the last grep would fail the pipeline)
        # shellcheck disable=SC2143
        [[ -n $(grep -E '"event" *: *"message"' "$1" | grep -E "\"text\" *: *\"$2\"") ]]
    fi
}
got_message "$T/a.out" hello-from-b || fail "A did not print B's message hello-from-b"
got_message "$T/b.out" hello-from-a || fail "B did not print A's message hello-from-a"
ok "A got hello-from-b, B got hello-from-a"

# ------------------------------------------------------------------------------------------------
step "apt-get purge $PACKAGE"
DEBIAN_FRONTEND=noninteractive apt-get purge -y "$PACKAGE" || fail "apt-get purge failed"
INSTALLED_BY_US=0
status=$(dpkg-query -W -f='${db:Status-Status}' "$PACKAGE" 2>/dev/null || true)
[[ -z $status || $status == not-installed ]] || fail "$PACKAGE still known to dpkg as '$status'"

step "nothing left behind"
left=0
while IFS= read -r path; do
    [[ $path == /. || -z $path ]] && continue
    if [[ -L $path || ( -e $path && ! -d $path ) ]]; then
        echo "    left behind: $path"
        left=1
    elif [[ -d $path ]]; then
        # A directory may stay if another package ships it too.
        dpkg-query -S "$path" >/dev/null 2>&1 && continue
        if [[ -z $(ls -A "$path") ]]; then
            echo "    left behind (empty, no other owner): $path"
            left=1
        else
            # Not ours any more: files written there by others, e.g. an icon cache from a trigger.
            echo "    note: $path stays, holding files of no package of ours: $(find "$path" -mindepth 1 -maxdepth 1 -printf "%f " | head -c 200)"
        fi
    fi
done <"$WORK/files.list"
[[ $left -eq 0 ]] || fail "files of $PACKAGE are left after purge"
ok "clean"

printf '\ncheck-package: all checks passed for %s\n' "$(basename "$DEB")"
