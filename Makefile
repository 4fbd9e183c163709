# The two commands of the README: `make demo` and `make test`. Each installs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

MIN_VENV ?= .venv-min
PEERS_VENV ?= .venv-peers

.PHONY: install demo test test-no-bf16 test-min test-slow bench peers-venv bench-peers \
	gpu-check gpu-carry

install: $(VENV)/.installed

# torch==2.13.0 is the CPU build (any other spec pulls a multi-GB CUDA build).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	rm -rf runs/demo
	$(BIN)/seq2seq train demo --out runs/demo

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not slow"

# The default suite as on a CPU without native bf16 (AVX2 only), on any CPU.
test-no-bf16: install
	$(BIN)/python -m pytest -m "not slow" --simulate-no-native-bf16

# The default suite on the lowest versions pyproject.toml allows (torch stays 2.13.0, the
# CPU build): constraints generated from the declared floors by scripts/floors.py.
test-min:
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(PYTHON) scripts/floors.py > $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/python -m pip install --quiet -e '.[dev]' -c $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/python -m pip list 2>/dev/null | grep -i -E "$$(cut -d= -f1 $(MIN_VENV)/constraints.txt | paste -sd'|')"
	$(MIN_VENV)/bin/python -m pytest -m "not slow" -p no:cacheprovider

# Long tests on the real data in ../shared/data (they skip when it is absent).
# pytest exits 5 when no test is selected; that is not a failure here.
test-slow: install
	$(BIN)/python -m pytest -m slow || [ $$? -eq 5 ]

bench: install
	$(BIN)/seq2seq bench core
	$(BIN)/seq2seq bench mnist --data-dir ../shared/data/mnist
	$(BIN)/seq2seq bench train fra-eng-keras --set data.path=../shared/data/fra-eng/fra.txt

# OpenNMT-py 3.5.1 for `seq2seq bench peers`, in its own environment (never a dependency of
# this project; its torch<2.3 pin is not enforced there, so it runs on our torch 2.13.0).
peers-venv: $(PEERS_VENV)/.installed

$(PEERS_VENV)/.installed:
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet torch==2.13.0 numpy
	$(PEERS_VENV)/bin/python -m pip install --quiet --no-deps opennmt-py==3.5.1 -e .
	$(PEERS_VENV)/bin/python -m pip install --quiet configargparse pyonmttok pyahocorasick \
		regex rapidfuzz click
	touch $@

bench-peers: peers-venv
	$(PEERS_VENV)/bin/seq2seq bench peers

# Every CUDA path in one run, on a GPU machine as it comes (its own python3 and CUDA torch;
# see scripts/gpu_check.py): logs and a summary in $(GPU_CHECK_OUT). Without a CUDA device
# it stops at once with "no CUDA device" and status 2.
GPU_CHECK_OUT ?= gpu-check-out
gpu-check:
	GPU_CHECK_OUT=$(GPU_CHECK_OUT) $(PYTHON) scripts/gpu_check.py

# What a GPU machine may lack, brought along (git-ignored): wheels for Python 3.12 of the
# packages its image does not hold, and the part of fra.txt that fra-eng-keras reads.
GPU_WHEELS = datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 fsspec==2026.9.0 \
	pyarrow==26.0.1 jiwer==4.0.0 rapidfuzz==3.14.6
FRA ?= ../shared/data/fra-eng/fra.txt
gpu-carry:
	rm -rf .whl .gpu-data
	mkdir -p .whl .gpu-data
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl $(GPU_WHEELS)
	head -n 10000 $(FRA) > .gpu-data/fra.txt
