#!/usr/bin/env bash
# Install as users install: build the wheel, install it into a fresh virtual environment away
# from the source tree, and run the command line from there (what `make install-check` and CI run).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/.venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$here" 2>&1 | grep -v WARN || true
rm -rf "$here/build"  # setuptools' scratch folder in the source tree
whl=$(ls "$work"/dist/facerot-*.whl)
echo "built $(basename "$whl"): $(unzip -l "$whl" | tail -1 | awk '{print $2}') files"
$py -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade "pip<26" 2>&1 | grep -v WARN || true
"$work/venv/bin/python" -m pip install -q "$whl" 2>&1 | grep -v WARN || true
cd "$work"  # away from the source tree: nothing is imported from it
bin="$work/venv/bin"
"$bin/python" - <<'PY'
import importlib.metadata as md, pathlib, sys
import face3d, ganrefine, pipeline, pipeline.evaluation
for m in (face3d, ganrefine, pipeline):
    assert "site-packages" in m.__file__, f"{m.__name__} imported from {m.__file__}, not the installed wheel"
cv = sorted(d.metadata["Name"] for d in md.distributions() if d.metadata["Name"].lower().startswith("opencv"))
assert len(cv) == 1, f"more than one OpenCV distribution installed: {cv}"
print("installed packages import from site-packages; OpenCV:", cv[0])
PY
"$bin/python" -m pip check
"$bin/facerot" --help > /dev/null
"$bin/facerot" eval --help > /dev/null
"$bin/python" -c "from skimage import data, io; io.imsave('astronaut.png', data.astronaut())"
"$bin/facerot" rotate astronaut.png --yaw 30 -o view.png --meta view.json
"$bin/python" -c "
import json; m = json.load(open('view.json'))[0]
assert abs(m['yaw'] - 30) < 1e-3, m['yaw']
print('rotated the bundled photo from the installed wheel: yaw', m['yaw'])"
echo "install check passed"
