# Quick start: `make demo` and `make test` do all set-up themselves on a fresh Debian machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := .cache/stamps

# Debian packages: text rendering libraries, the fonts the generator draws with (the compact set
# of ../shared/data/fonts.md), and Tesseract for the evaluation baseline.
APT_PACKAGES := $(shell cat packaging/apt-packages.txt | grep -v '^\#')

.PHONY: setup demo test bench clean
setup: $(STAMP)/venv

$(STAMP)/apt: packaging/apt-packages.txt
	@mkdir -p $(STAMP)
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(APT_PACKAGES) 2>/dev/null | grep -v 'install ok installed' | cut -d' ' -f1; \
	  for p in $(APT_PACKAGES); do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done); \
	missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@touch $@

$(STAMP)/venv: pyproject.toml $(STAMP)/apt
	@mkdir -p $(STAMP)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[synth,train,dev,ray,service,eval]'
	@touch $@

# Until the model exists the demo shows the data engine: a few pages per language, checked and previewed.
demo: setup
	$(VENV)/bin/polyocr synth pages --out out/demo/pages --count 16 --shard-size 8 --workers 2 --format folder --seed 7
	$(VENV)/bin/polyocr synth preview --out out/demo/preview --per-sheet 4
	@echo "demo pages in out/demo/pages, contact sheets in out/demo/preview"

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_synth.py

clean:
	rm -rf out .pytest_cache
