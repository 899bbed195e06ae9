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
	$(PY) -m pip install -q -e '.[synth,train,dev,ray,service,eval,heic]'
	@touch $@

# The demo reads the bundled sample pages (one per language, held-out fonts; see samples/README.md)
# with the packaged models, writes every output format to out/demo and prints the text of each page.
demo: setup
	$(VENV)/bin/polyocr read samples/*.jpg -o out/demo -f text,json,hocr,alto,pagexml,pdf,overlay
	@for f in samples/*.jpg; do n=$$(basename $$f .jpg); echo; echo "===== $$n ====="; cat out/demo/$$n.txt; done
	@echo; echo "all formats in out/demo (text, JSON, hOCR, ALTO, PAGE-XML, searchable PDF, overlay PNG)"

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_synth.py

clean:
	rm -rf out .pytest_cache
