# accelgen: `make` sets up and emits/lints every unit; `make test` runs the regression.
PYTHON ?= python3
VENV   ?= .venv
JOBS   ?= 2
PY       := $(VENV)/bin/python
ACCELGEN := $(VENV)/bin/accelgen
STAMP    := $(VENV)/.installed
PYTEST   := $(PY) -m pytest -n $(JOBS) --dist worksteal

.PHONY: all install hdl lint docs test test-quick test-sim bench report baselines clean

all: install
	$(ACCELGEN) lint
	$(ACCELGEN) hdl

install: $(STAMP)

$(STAMP): pyproject.toml
	@# Debian's Icarus Verilog (the portability check) and ccache (Verilator
	@# builds share their runtime objects): installed here as root, otherwise
	@# install them yourself (the check says so if iverilog is missing).
	@{ command -v iverilog && command -v ccache; } >/dev/null || { [ "$$(id -u)" = 0 ] \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq iverilog ccache >/dev/null; } \
	  || echo "note: install iverilog and ccache (apt-get install iverilog ccache)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@# The first YoWASP call compiles and caches the WebAssembly tools (about 30 s).
	$(PY) -c "from accelgen.flow import tools; tools.run('yosys', ['-V'], cwd='.')"
	touch $@

hdl: install
	$(ACCELGEN) hdl

lint: install
	$(ACCELGEN) lint --all

docs: install
	$(ACCELGEN) docs

# Full regression: parameter errors, emission, lint, Amaranth simulator,
# cocotb under Verilator over every preset and sweep, synthesis smoke tests.
test: install
	$(PYTEST)

# Fast tiers only: no Verilator builds, no synthesis.
test-quick: install
	$(PYTEST) -m "not cocotb and not synth"

bench: install
	$(PY) -m pip install -q -e .[bench]
	$(PY) bench/regression_speed.py
	$(PY) bench/synth_table.py
	$(PY) bench/bitfusion_table.py
	$(PY) bench/systolic_bench.py
	$(PY) bench/number_formats.py
	$(PY) bench/sparse_bench.py
	$(PY) bench/nonlinear_bench.py

# QoR report of every unit and preset: docs/report.md, docs/report.json, docs/report/*.png.
# Resumable (results cached in build/report/cache); JOBS synthesis jobs at a time.
report: install
	$(PY) -m pip install -q -e .[bench]
	$(PY) bench/report.py -j $(JOBS)

# Rewrite the committed QoR baselines (bench/baselines/*.json) that `make test` checks.
baselines: install
	$(PY) bench/report.py --update-baselines -j $(JOBS)

clean:
	rm -rf build .pytest_cache
