# The two commands: `make demo` and `make test`. Both set themselves up, as do `make docs`
# and `make docs-serve` (the documentation site).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# One stamp per set of extras: the demo installs the package alone, the tests add pytest,
# hypothesis and CPU torch (about 1 GB more), the docs extra (the site is tested too) and the
# variant study's extra (Optuna, music21, scikit-learn, SQLAlchemy, psycopg2: about 150 MB),
# so CI runs their tests; the docs the docs extra alone.
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs
# Material for MkDocs prints a banner about its successor on every build; the build
# itself is what we check
export NO_MKDOCS_2_WARNING := 1

.PHONY: test demo bench figures dot chromium postgres docs docs-serve study clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEMO_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $(DEMO_STAMP)

$(TEST_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,docs,study]'
	touch $(TEST_STAMP) $(DOCS_STAMP) $(DEMO_STAMP)

$(DOCS_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[docs]'
	touch $(DOCS_STAMP) $(DEMO_STAMP)

# `dot`, `chromium` and `postgres` first, so the render tests, the browser test of the site
# and the study's PostgreSQL test run rather than skip (they skip where these cannot be had).
test: $(TEST_STAMP) dot chromium postgres
	$(PY) -m pytest

# The documentation site, into site/: strict, so a broken link, a reference to nothing or
# a failing tutorial notebook fails the build. `make docs-serve` serves it with reloads.
docs: $(DOCS_STAMP) dot
	$(PY) -m mkdocs build --strict

docs-serve: $(DOCS_STAMP) dot
	$(PY) -m mkdocs serve

# Side by side with PyTorch, JAX and a hand-written NumPy LSTM; see docs/performance.md.
bench: $(TEST_STAMP)
	@$(PY) -c "import jax" 2>/dev/null || $(PY) -m pip install -q -e '.[bench]' \
	  || echo "could not install JAX: its column is skipped"
	$(PY) -m benchmarks

# Graphviz's `dot` renders the cell graphs; install it where we can, explain otherwise.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz) >/dev/null 2>&1 \
	      || echo "could not install Graphviz; graphs will be written as .gv source"; \
	  else \
	    echo "Graphviz's dot is missing: install it (apt-get install graphviz / brew install graphviz)"; \
	    echo "until then graphs are written as .gv source"; \
	  fi; }

# Debian's headless Chromium (and its driver) for the browser test of the site
# (tests/test_docs_site.py); Playwright drives it, so no browser is downloaded. A Korean
# font (Nanum) so that the Korean tutorial's screenshots show letters, not boxes.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-nanum) >/dev/null 2>&1 \
	      || echo "could not install Chromium; the browser test of the site is skipped"; \
	  else \
	    echo "Chromium is missing (apt-get install chromium): the site's browser test skips"; \
	  fi; }

# PostgreSQL's server, for the study's multi-machine storage test (tests/test_study.py starts
# a private server of its own); install it where we can, explain otherwise.
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	|| { if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	       apt-get install -y -qq postgresql) >/dev/null 2>&1 \
	      || echo "could not install PostgreSQL; its study test will be skipped"; \
	  else \
	    echo "PostgreSQL is missing: install it (apt-get install postgresql)"; \
	    echo "until then the study's PostgreSQL test is skipped"; \
	  fi; }

# Greff et al.'s variant study (docs/study.md): the default one, about an hour on two cores,
# then its report. STUDY=folder of its SQLite file and report.
STUDY ?= runs/study
study: $(TEST_STAMP)
	$(PY) -m minigrad.models.study run --out $(STUDY) --workers 2
	$(PY) -m minigrad.models.study report --out $(STUDY)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site .cache

# The cell graphs in docs/figures (needs Graphviz: see `make dot`).
figures: $(DEMO_STAMP) dot
	$(PY) docs/make_figures.py

# The showcase: an LSTM learns the adding problem at T=100 (about 30 s on two CPU
# cores; docs/results.md), then its cell graph is drawn and the run's plots are listed. Each `make demo`
# trains afresh (--overwrite replaces the earlier demo run's files).
DEMO := runs/demo
demo: $(DEMO_STAMP) dot
	@mkdir -p $(DEMO)
	@start=$$(date +%s); \
	$(PY) -m minigrad.models.train --task adding --seq-len 100 --out $(DEMO) --overwrite || exit $$?; \
	if command -v dot >/dev/null 2>&1; then graph=$(DEMO)/lstm_cell.svg; \
	else graph=$(DEMO)/lstm_cell.gv; fi; \
	$(PY) -m minigrad.models.graph lstm -o $$graph || echo "could not draw the cell graph"; \
	echo; echo "demo done in $$(( $$(date +%s) - start )) s:"; \
	echo "  run folder        $(DEMO)/ (metrics.jsonl, checkpoint.npz, summary.json)"; \
	echo "  loss curve        $(DEMO)/loss.png"; \
	echo "  gate activations  $(DEMO)/gates.png"; \
	echo "  LSTM cell graph   $$graph"
