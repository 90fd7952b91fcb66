#!/bin/bash
# The screenshot of an assist in use (assist-grabcut.png): the real window at its default size
# under Xvfb, driven with xdotool (G, a real box drag, a right-drag background stroke),
# captured with ImageMagick's `import` while GrabCut's polygon is previewed, before Enter.
# Needs Xvfb, xdotool and ImageMagick.
#
#     docs/screenshots/drive_assists.sh [OUT_DIR]      # default: docs/screenshots
set -euo pipefail
SHOT_WAIT=1.5
source "$(dirname "$0")/drive_common.sh"
$X key ctrl+g; sleep 1; $X type --delay 30 coffee.jpg; $X key Return; sleep 1.5
# The demo's cup box (60,20)-(480,330) is at 1.14x from (273,193) on screen: select it, press
# G, and GrabCut outlines the cup inside it (previewed dashed, not yet stored).
$X mousemove 900 720 click 1; sleep 0.3   # the canvas takes the keys (not the list)
$X key v; sleep 0.3
$X mousemove 581 393 click 1; sleep 0.3
$X key g; sleep 2.5
# A left-drag along the cup's wall (object) and a right-drag over the saucer (background):
# GrabCut runs again after each, on a worker.
stroke() {  # button x1 y1 x2 y2
  $X mousemove "$2" "$3" mousedown "$1"
  for s in 1 2 3 4 5 6 7 8; do
    $X mousemove $(($2 + s * ($4 - $2) / 8)) $(($3 + s * ($5 - $3) / 8)); sleep 0.05
  done
  $X mouseup "$1"; sleep 2.5
}
stroke 1 520 455 690 455
stroke 3 700 545 790 545
$X mousemove 1000 760
shot assist-grabcut.png
echo "saved assist-grabcut.png in $OUT"
