# Sourced by the drive_*.sh screenshot scripts: the demo project built in a temporary folder,
# the real window opened on it at its default size under a fresh Xvfb, focused, with `$X`
# (xdotool), `$W` (the window) and `shot NAME` (a 1280x820 capture into $OUT after
# $SHOT_WAIT seconds). The caller sets `set -euo pipefail` and may set SHOT_WAIT.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
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
shot() { sleep "${SHOT_WAIT:-1}"; import -window root -crop 1280x820+0+0 +repage "$OUT/$1"; }
