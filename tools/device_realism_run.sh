#!/bin/sh
# On the accelerator machine (the device tool runs this in the repository's root, gpu/ carried from
# tools/pack_for_device.sh): the realism fine-tune of CONFIG from the packed set; the exported
# refiner and the run's log come back under $OUT.
set -e
CONFIG=${1:-configs/realism_tune_gpu.json}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site gpu/wheels/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 FACEROT_MOBILEFACENET=$PWD/gpu/mobilefacenet.pt
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
OUTDIR=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['out'])" "$CONFIG")
status=0
python3 tools/tune_refiner_realism.py --config "$CONFIG" --packed gpu/realism_set.npz --export "$OUT/refiner.pt" || status=$?
cp "$OUTDIR/log.jsonl" "$OUT/" 2>/dev/null || true
exit $status
