# Two commands for a fresh machine: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test lint bench audit clean

VENDOR := src/ketaclinic/web/static/vendor
HTMX := $(VENDOR)/htmx.min.js
SWAGGER := $(VENDOR)/swagger-ui-bundle.js

$(VENV)/.installed: pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --break-system-packages uv
	uv venv --quiet --allow-existing -p python3.11 $(VENV)
	uv pip install --quiet -p $(PY) -e '.[dev]'
	@touch $@

# Front-end files from the npm registry at install time: never committed, never from a CDN.
$(HTMX):
	npm install --silent --no-save --no-audit --no-fund --prefix .npm htmx.org@2
	mkdir -p $(VENDOR)
	cp .npm/node_modules/htmx.org/dist/htmx.min.js $@

# Swagger UI for the API docs page (/api/docs).
$(SWAGGER):
	npm install --silent --no-save --no-audit --no-fund --prefix .npm swagger-ui-dist@5
	mkdir -p $(VENDOR)
	cp .npm/node_modules/swagger-ui-dist/swagger-ui-bundle.js .npm/node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/

install: $(VENV)/.installed $(HTMX) $(SWAGGER)

run: install
	$(VENV)/bin/ketaclinic examples
	$(VENV)/bin/ketaclinic demo
	$(VENV)/bin/ketaclinic serve

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy --strict src

test: lint
	$(VENV)/bin/pytest

bench: install
	$(PY) bench/screen.py
	$(PY) bench/cohort.py --patients 10000
	$(PY) bench/load.py

# Known vulnerabilities in the installed packages (PyPI's advisory feed, so it needs the network),
# ketaclinic itself left out. Not part of `make test`: an advisory published tomorrow must not
# fail an unchanged build; run it on its own (nightly, or before a release).
audit: install
	$(VENV)/bin/pip-audit --skip-editable --progress-spinner off

clean:
	rm -rf $(VENV) .npm $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
