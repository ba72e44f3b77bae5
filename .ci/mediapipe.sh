#!/usr/bin/env bash
# Tests of the [mediapipe] extra (real MediaPipe Holistic pose extraction), in their own
# environment: mediapipe 0.10.21 is the only release whose models ship inside the wheel
# (nothing is downloaded at run time) and it needs numpy<2, which the main .venv does not
# have.  Creates .venv-mp on first use, then runs `pytest -m mediapipe tests/video`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
VENV=${MEDIAPIPE_VENV:-.venv-mp}

# Pins of this environment only (pyproject stays as it is): mediapipe 0.10.21 is built
# against numpy 1.x; scikit-image ships the photo the tests run MediaPipe on.
CONSTRAINTS=$(mktemp)
trap 'rm -f "$CONSTRAINTS"' EXIT
cat > "$CONSTRAINTS" <<'PINS'
mediapipe==0.10.21
numpy<2
scikit-image==0.26.0
PINS

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -c constraints.txt -c "$CONSTRAINTS" \
    -e . "mediapipe==0.10.21" "numpy<2" scikit-image pytest
"$VENV/bin/python" -c "import mediapipe, numpy; print('mediapipe', mediapipe.__version__, 'numpy', numpy.__version__)"
"$VENV/bin/python" -m pytest -m mediapipe tests/video -q -p no:cacheprovider
