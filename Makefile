# Every target is idempotent and works on a fresh Debian 12 machine as root (or with sudo).
# A newcomer needs two commands: `make demo` and `make test`; both set up first.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian's interpreter: PyQGIS imports only there (Python 3.11 on Debian 12, 3.13 on 13).
SYSTEM_PYTHON := /usr/bin/python3
# QGIS (Qt 5) from Debian with its Python bindings; GDAL's tools and Python
# bindings for the GDAL benchmark; Xvfb for the GUI tests.
DEB_PACKAGES := qgis python3-qgis qgis-providers python3-venv python3-gdal gdal-bin \
	xvfb xauth git make
TEST_ENV := QT_QPA_PLATFORM=offscreen
# Every lock is hash-pinned, for every Python from 3.11 to 3.14, and wheels only: a
# package without a wheel for this Python fails at once instead of compiling for minutes.
PIP_INSTALL := -m pip install -q --disable-pip-version-check --require-hashes --only-binary=:all:
# The engine's own isolated environment: its hashed lock, and the wheels for offline installs.
ENGINE_LOCK := sits_qgis/environment/engine.lock
WHEELHOUSE := dist/wheelhouse
# The developers' tools (linters, Qt6 checks, uv for the locks), apart from QGIS.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.setup-done
# The Python code of the plugin and its tests, for the linters.
CODE := __init__.py plugin.py processing_provider ui sits_qgis tests scripts bench
# What the plugin zip ships (scripts/package.py): what plugins.qgis.org scans.
SHIPPED := __init__.py plugin.py processing_provider ui sits_qgis

.PHONY: setup tools demo test test-all lint package bench screenshots lock wheelhouse clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# Debian's interpreter (PyQGIS only imports there), seeing Debian's QGIS packages.
	[ -x $(PY) ] || $(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) $(PIP_INSTALL) -r requirements.lock
	@# The repository on the environment's path: a .pth file, as venvs have no setuptools
	@# to install it with from Python 3.12 on.
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "sits-qgis-dev.pth").write_text("$(CURDIR)\n")'
	touch $@

tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): requirements-tools.lock | $(STAMP)
	[ -x $(TOOLS)/bin/python ] || $(SYSTEM_PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python $(PIP_INSTALL) -r requirements-tools.lock
	touch $@

demo: setup
	bash scripts/demo.sh

test: setup tools
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)
	@# The plain-Qt code on Qt 6 (PyQt6 in the tools environment), as QGIS 4 runs it.
	$(TEST_ENV) $(TOOLS)/bin/python -m pytest -q tests_qt6

# The whole suite on QGIS 3.22 (this machine), 3.40 LTR (Debian 13) and 3.44 LTR (sid), the
# two last in chroots built once and cached (root; measured: 1.5 to 3 min and 2.2 GB
# each, plus 1 GB of test environments);
# results in test-results/matrix.md. SITS_TEST_SUITES="host trixie" picks suites.
test-all:
	bash scripts/test_matrix.sh

# The dialogs' screenshots in docs/screenshots (shown in the README), on a virtual X
# screen as a user would see them; look at each one before committing it.
screenshots: setup
	SITS_SCREENSHOTS=1 xvfb-run -a -s "-screen 0 1280x1024x24" $(PY) -m pytest tests/test_dialogs.py tests/test_series_dock.py tests/test_without_engine.py \
		tests/test_result_layers.py tests/test_scene_layers.py

# Style, Qt6 / QGIS 4 readiness, and the scanners plugins.qgis.org blocks a plugin on:
# nothing may be reported. (flake8-qgis: QGS1xx QGIS 3 rules and QGS4xx Qt6 rules;
# qgis-analyzer: its QT6_*, METADATA_* and security rules; bandit; detect-secrets.)
lint: tools
	$(TOOLS)/bin/ruff check .
	$(TOOLS)/bin/ruff format --check .
	$(TOOLS)/bin/flake8 $(CODE)
	$(TOOLS)/bin/python scripts/lint_plugin.py
	$(TOOLS)/bin/bandit -q -c pyproject.toml -r $(SHIPPED)
	@# every file in git, as plugins.qgis.org scans every file of the zip
	$(TOOLS)/bin/detect-secrets-hook $$(git ls-files)

package: setup
	$(PY) scripts/make_index_list.py >/dev/null
	$(PY) scripts/package.py

bench: setup
	bash bench/run.sh

# Re-resolve the locks (then run `make test-all` and commit them): one hash-pinned lock
# per environment, each valid on CPython 3.11 to 3.14 (uv's universal resolution, with
# markers where a version differs), wheels only.
UV_COMPILE := $(TOOLS)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --only-binary :all: --no-config
lock: tools
	$(UV_COMPILE) requirements.in -o requirements.lock
	$(UV_COMPILE) requirements-engine.in -o $(ENGINE_LOCK)
	$(UV_COMPILE) requirements-tools.in -o requirements-tools.lock

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
	rm -rf dist demo-output .pytest_cache .ruff_cache test-results
