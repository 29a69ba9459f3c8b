#!/bin/sh
# Fill gpu/ (ignored by git) with what a realism fine-tune needs on the accelerator machine, which
# has PyTorch and OpenCV but not the photos, the fitter, kornia or ../shared: the realism set
# packed (crops as JPEG, ~36 MB), MobileFaceNet's weights and kornia's wheels for its Python 3.12
# (~7 MB). Then, with the device tool: command `sh tools/device_realism_run.sh CONFIG`, carry ["gpu"].
set -e
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p gpu/wheels
[ -f gpu/realism_set.npz ] || $PY tools/tune_refiner_realism.py --config configs/realism_tune_gpu.json --pack gpu/realism_set.npz
cp "${FACEROT_MOBILEFACENET:-../shared/models/mobilefacenet/mobilefacenet_foamliu_state_dict.pt}" gpu/mobilefacenet.pt
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d gpu/wheels "kornia==$($PY -c 'import kornia; print(kornia.__version__)')" "kornia_rs==$($PY -m pip show kornia_rs | sed -n 's/^Version: //p')"
du -sh gpu
