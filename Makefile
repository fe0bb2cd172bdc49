# Two commands for a fresh machine: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test lint bench clean

HTMX := src/ketaclinic/web/static/vendor/htmx.min.js

$(VENV)/.installed: pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --break-system-packages uv
	uv venv --quiet --allow-existing -p python3.11 $(VENV)
	uv pip install --quiet -p $(PY) -e '.[dev]'
	@touch $@

# htmx from the npm registry at install time: never committed, never from a CDN.
$(HTMX):
	npm install --silent --no-save --no-audit --no-fund --prefix .npm htmx.org@2
	mkdir -p $(dir $@)
	cp .npm/node_modules/htmx.org/dist/htmx.min.js $@

install: $(VENV)/.installed $(HTMX)

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

clean:
	rm -rf $(VENV) .npm $(HTMX) .pytest_cache .mypy_cache .ruff_cache
