# Everyday entry points. `make test` is the README's test command and CI's last step.
PYTHON ?= python3
VENV := .venv
# The stamp lives inside .venv, so deleting .venv or editing pyproject.toml reinstalls.
STAMP := $(VENV)/.tinytorch-installed

.PHONY: venv demo test

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -e '.[dev,learn]'
	touch $(STAMP)

demo: venv
	$(VENV)/bin/python milestones/1986_mlp/run.py

test: venv
	$(VENV)/bin/python -m pytest -q
