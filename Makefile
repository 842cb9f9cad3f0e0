# qujat — two commands matter: `make run` and `make test`. Both are idempotent.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian's python3 owns python3-uno (LibreOffice's UNO bridge); the venv is built from it
# with --system-site-packages so that `import uno` works inside it.
SYSPY ?= /usr/bin/python3
APT_PACKAGES := libreoffice-writer-nogui python3-uno python3-venv fonts-liberation2 fonts-dejavu-core \
	poppler-utils zbar-tools softhsm2 opensc postgresql chromium chromium-driver -fonts-liberation
STAMP := $(VENV)/.stamp-$(shell cat pyproject.toml setup.py | sha1sum | cut -c1-12)

.PHONY: run test bench deps venv clean

deps: .deps-stamp
.deps-stamp: Makefile
	@bash scripts/install-system-deps $(APT_PACKAGES)
	@touch $@

venv: $(STAMP)
$(STAMP): pyproject.toml setup.py .deps-stamp
	@test -x $(PY) || $(SYSPY) -m venv --system-site-packages $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test,devpki]'
	@rm -f $(VENV)/.stamp-* && touch $@

# the service on 127.0.0.1:8000: dev PKI and its TSA/OCSP, SQLite in data/, a dev API key (scripts/run-dev)
run: venv
	VENV=$(VENV) bash scripts/run-dev

test: venv
	$(PY) -m pytest -ra $(PYTEST_ARGS)

bench: venv
	$(PY) -m bench

clean:
	rm -rf out .pytest_cache
