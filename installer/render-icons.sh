#!/bin/sh
# Re-render the committed PNG and ICO app icons from resources/icons/punchline.svg.
# Run after editing the SVG, then commit the results. The build never runs this (the PNGs are
# committed so CI and packagers need no SVG renderer). Needs rsvg-convert (librsvg2-bin) and
# ImageMagick's convert (for the Windows .ico).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
icons="$here/../resources/icons"
svg="$icons/punchline.svg"
mkdir -p "$icons/png"
for size in 16 22 24 32 48 64 128 256 512; do
    rsvg-convert --width "$size" --height "$size" --format png "$svg" --output "$icons/png/punchline-$size.png"
done
# Windows: one .ico with the sizes Explorer and the NSIS installer ask for.
convert "$icons/png/punchline-16.png" "$icons/png/punchline-24.png" "$icons/png/punchline-32.png" \
        "$icons/png/punchline-48.png" "$icons/png/punchline-64.png" "$icons/png/punchline-256.png" \
        "$icons/punchline.ico"
echo "rendered into $icons/png and $icons/punchline.ico"
