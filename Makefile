# Two commands on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: install demo console test lint typecheck unit bench clean

install: $(VENV)/.installed $(VENV)/.warmed $(VENV)/.compiled

# constraints.txt pins every dependency to the versions CI last tested
# (`pip freeze --exclude-editable` of a working environment).
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# numba compiles the matching kernels on first use (tens of seconds); compile
# them here, into numba's on-disk cache, so the first command is as fast as the
# next. Again when a kernel's source changes (the cache is per source file).
$(VENV)/.warmed: $(VENV)/.installed src/linkage/popcount.py src/linkage/privacy/frequency.py src/linkage/privacy/known_plaintext.py $(wildcard src/linkage/matching/*.py src/linkage/matching/clk/*.py)
	$(PY) -m linkage.matching.warmup
	touch $@

# Python keeps each module's bytecode in __pycache__ after its first import,
# unless PYTHONDONTWRITEBYTECODE is set (some containers and CI set it): then
# every command compiles the package's sources again (about 0.1 s of
# `linkage match`). Python still reads bytecode written here.
$(VENV)/.compiled: $(VENV)/.installed $(shell find src/linkage -name '*.py')
	$(PY) -m compileall -q src/linkage
	touch $@

demo: install
	$(BIN)/linkage demo --out demo-output

# The demo, then its service stays up for the web console (Ctrl-C stops it).
console: install
	$(BIN)/linkage demo --out demo-output --keep-serving

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

# One test process per core; the modules with slow tests are handed out first
# (tests/conftest.py) and an idle process takes work from a busy one.
unit: install
	$(BIN)/pytest -q -n auto --dist worksteal

test: lint typecheck unit

bench: install
	$(PY) benchmarks/encode_vs_clkhash.py

clean:
	rm -rf $(VENV) demo-output build *.egg-info
