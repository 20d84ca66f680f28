# driftgate: every target sets itself up from nothing (a fresh clone).
#   make demo   prepare the flights data, run EWR/JFK/LGA over spans 1-6, print a table
#   make demo-kafka  a local broker, EWR months replayed as events, landed, then run
#   make test   create .venv if needed, then run the whole test suite
#   make test-fast  unit tests only (no TFX pipeline runs)
#   make docs   build the docs site into build/site (strict: broken links fail)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip lists every local mirror it skips; keep the output readable
PIPQUIET := 2>&1 | (grep -v "is ignored: it is neither a file nor a directory" || true)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
export TF_USE_LEGACY_KERAS := 1
export PYTHONHASHSEED := 0

.PHONY: venv engines demo demo-kafka test test-fast lint docs bench clean

venv: $(STAMP)

$(STAMP): setup.py pyproject.toml constraints.txt scripts/find_python310.sh
	@PY310="$$(bash scripts/find_python310.sh)" || exit 1; \
	  if [ ! -x "$(PY)" ]; then echo ">> creating $(VENV) with $$PY310"; "$$PY310" -m venv $(VENV) || exit 1; fi
	@echo ">> installing driftgate and the pinned TFX 1.16 stack (first time: ~5 min)"
	$(PY) -m pip install -q --upgrade "pip<25" "setuptools>=64,<70" wheel $(PIPQUIET)
	$(PY) -m pip install -q -c constraints.txt -e ".[test]" $(PIPQUIET)
	@touch $(STAMP)

# the real engines the tests and demos start (Apache Kafka, Flink, fake-gcs-server),
# fetched once with mvn / go / pip into the git-ignored .engines/ (driftgate.local)
engines: $(STAMP)
	@bash scripts/ensure_debian_packages.sh
	$(PY) -m driftgate.local.engines

demo: $(STAMP)
	$(VENV)/bin/driftgate data flights --out $(DEMO_DIR)/data
	$(VENV)/bin/driftgate demo --data $(DEMO_DIR)/data --root $(DEMO_DIR)/runs --spans 1,2,3,4,5,6

demo-kafka: $(STAMP) engines
	$(VENV)/bin/driftgate demo-kafka --region EWR --months 1,2 --out $(DEMO_DIR)/kafka

test: $(STAMP) lint engines
	$(PY) -m pytest -q -n 2 --dist loadfile tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

docs: $(STAMP)  # NO_MKDOCS_2_WARNING: Material's banner about MkDocs 2.0 (constraints.txt pins mkdocs 1.6)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e" tests

bench: $(STAMP)
	$(PY) benchmarks/bench_components.py
	$(PY) benchmarks/bench_drift.py
	$(PY) benchmarks/bench_kubeflow.py
	$(PY) benchmarks/bench_task_startup.py
	$(PY) benchmarks/bench_live.py
	@test -d $(DEMO_DIR)/data || $(VENV)/bin/driftgate data flights --out $(DEMO_DIR)/data
	$(PY) benchmarks/bench_false_alarms.py
	$(PY) benchmarks/bench_backtest.py --data $(DEMO_DIR)/data
	$(VENV)/bin/driftgate backtest --data $(DEMO_DIR)/data --out runs/backtest > /dev/null
	$(PY) benchmarks/tune_policy.py --data $(DEMO_DIR)/data --out runs/backtest
	$(PY) benchmarks/tune_policy.py --data $(DEMO_DIR)/data --out runs/backtest --grid certain
	$(PY) benchmarks/bench_columns.py --pool $(DEMO_DIR)/data
	@test -d $(DEMO_DIR)/runs/serving || { echo "bench_serving needs make demo first"; exit 0; }; $(PY) benchmarks/bench_serving.py --root $(DEMO_DIR)/runs --data $(DEMO_DIR)/data

clean:
	rm -rf $(VENV) $(DEMO_DIR) runs build *.egg-info
