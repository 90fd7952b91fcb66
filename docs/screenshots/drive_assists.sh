#!/bin/bash
# The screenshot of an assist in use (assist-grabcut.png): the real window at its default size
# under Xvfb, driven with xdotool (G, a real box drag, a right-drag background stroke),
# captured with ImageMagick's `import` while GrabCut's polygon is previewed, before Enter.
# Needs Xvfb, xdotool and ImageMagick.
#
#     docs/screenshots/drive_assists.sh [OUT_DIR]      # default: docs/screenshots
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$REPO/docs/screenshots}
TMP=$(mktemp -d)
export DISPLAY=:$((90 + RANDOM % 100))
Xvfb "$DISPLAY" -screen 0 1400x900x24 -nolisten tcp & XVFB=$!
trap 'kill $APP $XVFB 2>/dev/null; rm -rf "$TMP"' EXIT
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
PROJECT=$(cd "$TMP" && "$PYTHON" -c "
import sys; sys.path.insert(0, '$REPO/docs/screenshots')
from pathlib import Path
if __name__ == '__main__':
    from shots import build_demo
    print(build_demo(Path('$TMP')))" | tail -1)
HOME=$TMP XDG_CONFIG_HOME=$TMP/.config "$PYTHON" -P -m labeler gui "$PROJECT" & APP=$!
X=xdotool
W=$($X search --sync --name "Labeler" | head -1)
sleep 4
$X windowfocus --sync "$W"  # no window manager gives it the focus
shot() { sleep 1.5; import -window root -crop 1280x820+0+0 +repage "$OUT/$1"; }
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
