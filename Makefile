# The two commands of the README: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test bench bench-diskann lint clean

$(PY):
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch==2.13.0 first: it resolves to the CPU wheel already on the machine; a bare
# `torch` pulled in by sentence-transformers would fetch gigabytes of CUDA packages.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[test,mcp,langchain,llamaindex,cluster]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/sleuth up sample_docs

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PIP) install -e '.[bench]'
	$(PY) -m benchmarks.flat

# diskannpy pins numpy < 2, so it gets a virtualenv of its own beside the project's.
.venv-diskannpy/bin/python:
	python3.11 -m venv .venv-diskannpy
	.venv-diskannpy/bin/pip install diskannpy==0.7.0

bench-diskann: $(STAMP) .venv-diskannpy/bin/python
	$(PIP) install -e '.[bench]'
	$(PY) -m benchmarks.diskann

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV)
