#!/bin/sh
# Takes docs/screenshot.png: builds punchline if needed, runs the three-window --demo on a virtual
# X display (xvfb-run): Alice with two conversations (Bob, Carol) beside Bob's and Carol's windows.
# Waits until they are connected and the first messages and offer crossed, captures the screen
# with ImageMagick's `import` (Debian package imagemagick), and quits.
#
# Environment: BUILD_DIR (default build-screenshot next to the sources), WAIT (seconds, default 6;
# more for a sanitizer build; for the one-window scenes the longest wait for them to be ready),
# SCREEN (default 1600x900x24, 2800x1800x24 at SCALE 2; 960x640x24 times SCALE for the one-window
# scenes), OUT (default docs/screenshot.png), SCALE (QT_SCALE_FACTOR, default 1), SCENE:
#   demo         the three windows: connected chats and an incoming offer (default)
#   first-start  a new profile without a name: the window asks for one
#   chat         Alice's window, connected to Bob, a message each way
#   offer        Bob's window: Alice offers a file (Accept / Decline)
#   transfer     Bob's window: a large file arriving
#   failed       Alice's window: a friend whose code names a loopback port where nobody listens
#   all          every scene above at 1x and 2x, as docs/screenshots/SCENE-1x.png and -2x.png
# Every scene runs real nodes on loopback only (no STUN, no IP echo).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-screenshot}
out=${OUT:-$here/docs/screenshot.png}
wait_s=${WAIT:-}
scale=${SCALE:-1}
scene=${SCENE:-demo}
if [ "$scene" = all ]; then
    for s in first-start demo chat offer transfer failed; do
        for x in 1 2; do
            SCENE=$s SCALE=$x OUT="$here/docs/screenshots/$s-${x}x.png" SCREEN= "$0"
        done
    done
    exit 0
fi
case $scene in
    demo) args="--demo" ;;
    first-start) args="--stun none --ip-echo none --dht none --port 0 --profile" ;; # + a new profile folder
    chat|offer|transfer|failed) args="--demo-scene $scene --stun none --ip-echo none --dht none" ;;
    *) echo "screenshot.sh: unknown SCENE $scene" >&2; exit 2 ;;
esac
case $scene in
    demo|first-start) default_screen=$([ "$scale" = 2 ] && echo 2800x1800x24 || echo 1600x900x24) ;;
    *) default_screen=$([ "$scale" = 2 ] && echo 1920x1280x24 || echo 960x640x24) ;;
esac
screen=${SCREEN:-$default_screen}
case $scene in
    demo|first-start) wait_s=${wait_s:-6} ;;
    *) wait_s=${wait_s:-60} ;;
esac

for tool in xvfb-run import cmake; do
    command -v "$tool" >/dev/null 2>&1 || { echo "screenshot.sh: $tool is needed" >&2; exit 1; }
done

if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
    generator=
    command -v ninja >/dev/null 2>&1 && generator="-G Ninja"
    # shellcheck disable=SC2086
    cmake -S "$here" -B "$build" $generator -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPUNCHLINE_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target punchline -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
app=$build/app/punchline
[ -x "$app" ] || { echo "screenshot.sh: $app was not built" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# One shell inside the virtual display: start the demo, wait (for "scene ready" in the one-window
# scenes), capture, stop the demo.
cat >"$tmp/inner.sh" <<'INNER'
#!/bin/sh
set -u
if [ "$SCENE" = first-start ]; then
    # shellcheck disable=SC2086
    USER= LOGNAME= "$APP" $PL_ARGS "$TMPD/profile" >"$TMPD/demo.log" 2>&1 &
else
    # shellcheck disable=SC2086
    "$APP" $PL_ARGS >"$TMPD/demo.log" 2>&1 &
fi
pid=$!
case $SCENE in
    demo|first-start) sleep "$WAIT_S" ;;
    *)
        waited=0
        until grep -q 'scene ready' "$TMPD/demo.log" 2>/dev/null; do
            if [ "$waited" -ge $((WAIT_S * 10)) ]; then
                echo "screenshot.sh: the $SCENE scene was not ready after $WAIT_S s" >&2
                break
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
        ;;
esac
status=0
if kill -0 "$pid" 2>/dev/null; then
    import -window root "$OUT" || status=1
else
    echo "screenshot.sh: punchline --demo exited early:" >&2
    cat "$TMPD/demo.log" >&2
    status=1
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit $status
INNER
chmod +x "$tmp/inner.sh"

# A home and runtime dir of our own: the demo must not touch the user's profile or settings.
mkdir -p "$tmp/home" "$tmp/runtime"
chmod 700 "$tmp/runtime"
HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/runtime" XDG_CONFIG_HOME="$tmp/home/.config" \
    APP="$app" TMPD="$tmp" WAIT_S="$wait_s" OUT="$out" QT_QPA_PLATFORM=xcb \
    QT_SCALE_FACTOR="$scale" SCENE="$scene" PL_ARGS="$args" \
    xvfb-run -a -s "-screen 0 $screen" "$tmp/inner.sh"
echo "$out"
