# The two commands: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench figures dot clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

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

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# The cell graphs in docs/figures (needs Graphviz: see `make dot`).
figures: $(STAMP) dot
	$(PY) docs/make_figures.py
