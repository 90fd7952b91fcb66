#!/bin/bash
# The screenshots of issue 17's fixes (space-pan.png, zoom-next-image.png, empty-filter.png),
# taken as a user sees them: the real window at its default size under Xvfb, driven with
# xdotool (keys held down with the X server's auto-repeat, real mouse drags), captured with
# ImageMagick's `import`. Needs Xvfb, xdotool and ImageMagick.
#
#     docs/screenshots/drive_window.sh [OUT_DIR]      # default: docs/screenshots
#
# Run it (with drive_common.sh) on an older checkout to see the "before": a held Space marks the image reviewed,
# the next image opens at the last one's zoom, an empty filter leaves the old image.
set -euo pipefail
source "$(dirname "$0")/drive_common.sh"
$X key ctrl+g; sleep 1; $X type --delay 30 astronaut.jpg; $X key Return; sleep 1.5
$X mousemove 600 400 click 1; sleep 0.3
for _ in 1 2 3 4 5; do $X key equal; sleep 0.15; done
# Space held with a drag pans; held without one does nothing (it once marked reviewed).
$X keydown space; sleep 1.0
$X mousemove 700 450 mousedown 1; sleep 0.2
for s in 1 2 3 4 5 6; do $X mousemove $((700 - s * 40)) $((450 - s * 25)); sleep 0.1; done
$X mouseup 1; sleep 0.3; $X keyup space; sleep 0.5
$X keydown space; sleep 1.5; $X keyup space
shot space-pan.png
# The next image opens fitted, not at 408% on a corner.
$X key d
shot zoom-next-image.png
# A filter with no match (no test split in the demo): an empty canvas that says so.
$X mousemove 80 49 click 1; sleep 0.8
for _ in 1 2 3 4 5 6 7 8; do $X key Down; sleep 0.1; done
$X key Return
shot empty-filter.png
echo "saved space-pan.png zoom-next-image.png empty-filter.png in $OUT"
