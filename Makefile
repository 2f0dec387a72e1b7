# Quick start: `make demo` and `make test` do all set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean system-packages

# Real servers the tests start: rsyslog (with its TLS driver) sends syslog to `yamori serve`; openssl makes
# the test certificates. Installed with apt when missing (CI runs as root on Debian).
SYSTEM_PACKAGES := rsyslog rsyslog-gnutls openssl

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/yamori hunt demo/events --rules rules --format table

system-packages:
	@if ! command -v dpkg >/dev/null 2>&1; then echo "not Debian: install $(SYSTEM_PACKAGES) yourself"; exit 0; fi; \
	missing=""; for package in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); echo "installing$$missing"; \
	  $$sudo apt-get install -y -q $$missing >/dev/null \
	    || { $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q $$missing >/dev/null; }; \
	fi

test: $(STAMP) system-packages
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache
