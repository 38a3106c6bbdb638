# Two commands on a fresh machine (Python 3.11+ with venv): `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup tools demo test lint golden benchmark clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,local]'
	touch $@

tools: .tools/bin/helm  ## helm 3 for the tests (the product uses your own helm on PATH)

.tools/bin/helm: scripts/get-helm
	scripts/get-helm

demo: setup  ## render and check the reference platform, bring its AWS side up and down on the local emulator, dry-run a pilot
	$(VENV)/bin/eksp render -o out/
	$(VENV)/bin/eksp check
	rm -rf .eksp-local
	$(VENV)/bin/eksp up --local --state .eksp-local --yes
	$(VENV)/bin/eksp down --local --state .eksp-local --yes
	$(VENV)/bin/eksp pilot create shop --instance-type m6a.4xlarge --manifests examples/pilots/shop --dry-run

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports

test: lint tools  ## lint, type-check, import contracts, then every test
	$(VENV)/bin/pytest

golden: setup  ## rewrite tests/golden from the current render; review the diff
	$(VENV)/bin/pytest tests/render/test_golden.py --update-golden

benchmark: setup
	$(PY) benchmarks/render.py
	$(PY) benchmarks/check.py
	$(PY) benchmarks/up_local.py
	$(PY) benchmarks/pilot.py

clean:
	rm -rf $(VENV) .tools out .eksp-local .pytest_cache .mypy_cache .ruff_cache
