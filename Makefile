# Every target is idempotent and works on a fresh Debian 12 machine as root (or with sudo).
# A newcomer needs two commands: `make demo` and `make test`; both set up first.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# QGIS 3.22 (Qt 5) from Debian with its Python bindings; GDAL's tools and Python
# bindings for the GDAL benchmark; Xvfb for the GUI tests.
DEB_PACKAGES := qgis python3-qgis qgis-providers python3-venv python3-gdal gdal-bin \
	xvfb xauth git make
TEST_ENV := QT_QPA_PLATFORM=offscreen
# The engine's own isolated environment: its hashed lock, and the wheels for offline installs.
ENGINE_LOCK := sits_qgis/environment/engine.lock
WHEELHOUSE := dist/wheelhouse

.PHONY: setup demo test lint package bench screenshots lock wheelhouse clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# Debian's interpreter (PyQGIS only imports there), seeing Debian's QGIS packages.
	[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

demo: setup
	bash scripts/demo.sh

test: setup
	$(TEST_ENV) $(PY) -m pytest

# The dialogs' screenshots in docs/screenshots (shown in the README), on a virtual X
# screen as a user would see them; look at each one before committing it.
screenshots: setup
	SITS_SCREENSHOTS=1 xvfb-run -a -s "-screen 0 1280x1024x24" $(PY) -m pytest tests/test_dialogs.py tests/test_series_dock.py tests/test_without_engine.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

package: setup
	$(PY) scripts/make_index_list.py >/dev/null
	$(PY) scripts/package.py

bench: setup
	bash bench/run.sh

# Re-resolve the lock from requirements.in (then run `make test` and commit both).
lock: setup
	$(PY) -m pip install -q -r requirements.in
	{ echo "# Complete pinned lock of the Python packages installed into .venv (on top of Debian's QGIS)."; \
	  echo "# Regenerate: make lock (after changing requirements.in)."; \
	  $(PY) -m pip freeze --path $(VENV)/lib/python3.11/site-packages | grep -v -e '^-e' -e '^sits'; \
	} > requirements.lock

# Every wheel of the engine's lock for this machine's platform and Python, into
# dist/wheelhouse, for an offline install of the engine's environment:
#   pip install --no-index --find-links dist/wheelhouse --require-hashes -r sits_qgis/environment/engine.lock
# Debian's pip, or a throw-away venv's where python3-pip is missing; wheels already there are kept.
wheelhouse:
	@pip="/usr/bin/python3 -m pip"; tmp=; \
	if ! $$pip --version >/dev/null 2>&1; then \
		tmp=$$(mktemp -d) && /usr/bin/python3 -m venv $$tmp/venv && pip=$$tmp/venv/bin/pip; \
	fi; \
	$$pip download -q --disable-pip-version-check --require-hashes --only-binary=:all: \
		-r $(ENGINE_LOCK) -d $(WHEELHOUSE); rc=$$?; \
	[ -z "$$tmp" ] || rm -rf "$$tmp"; \
	[ $$rc = 0 ] && echo "$(WHEELHOUSE): $$(ls $(WHEELHOUSE) | wc -l) wheels, $$(du -sh $(WHEELHOUSE) | cut -f1)"; \
	exit $$rc

clean:
	rm -rf dist demo-output .pytest_cache .ruff_cache
