# The two commands a newcomer needs: `make demo` and `make test`. Everything they install is here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export UV_COMPILE_BYTECODE := 1
export UV_PYTHON_DOWNLOADS := never
STAMP := $(VENV)/.installed

.PHONY: venv test test-oldest lint typecheck unit test-ui demo bench soak soak-distributed distributed-tools \
	emulator compose-tool compose-check browser-tool clean lock

$(STAMP): pyproject.toml requirements/dev.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@test -x $(PY) || uv venv --quiet -p $(PYTHON) $(VENV)
	uv pip sync --quiet -p $(PY) requirements/dev.lock
	uv pip install --quiet -p $(PY) --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# Re-resolve the pinned environment after changing dependencies in pyproject.toml.
lock:
	uv pip compile --quiet -p $(PYTHON) pyproject.toml --extra amazon --extra emulator --extra distributed --extra dev -c requirements/constraints.txt \
		-o requirements/dev.lock
	uv pip compile --quiet -p $(PYTHON) pyproject.toml --extra amazon --extra emulator --extra distributed --extra dev \
		-c requirements/constraints-oldest.txt -o requirements/oldest.lock

lint: venv
	$(VENV)/bin/ruff check airflow_provider_wan tests dags_examples
	$(VENV)/bin/ruff format --check airflow_provider_wan tests dags_examples
	$(VENV)/bin/lint-imports --no-cache

typecheck: venv
	$(VENV)/bin/mypy airflow_provider_wan

# tests/ui (the browser test) runs here too: it needs the system's Chromium (browser-tool).
unit: venv compose-tool browser-tool distributed-tools
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Only the browser test of the provider in Airflow's UI (screenshots in test-artifacts/ui/).
test-ui: venv browser-tool
	$(PY) -m pytest -q -p no:cacheprovider tests/ui $(PYTEST_ARGS)

test: lint typecheck unit test-oldest

# The oldest supported Airflow (3.1.1, requirements/constraints-oldest.txt): the hook, trigger, operator, S3,
# sensor, authoring (@task.wan_video, template files) and OpenLineage suites run on it too.
OLDEST := .venv-oldest
$(OLDEST)/.installed: pyproject.toml requirements/oldest.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@test -x $(OLDEST)/bin/python || uv venv --quiet -p $(PYTHON) $(OLDEST)
	uv pip sync --quiet -p $(OLDEST)/bin/python requirements/oldest.lock
	uv pip install --quiet -p $(OLDEST)/bin/python --no-deps -e .
	@touch $@

test-oldest: $(OLDEST)/.installed
	$(OLDEST)/bin/python -c "import airflow; print('Airflow', airflow.__version__)"
	$(OLDEST)/bin/python -m pytest -q -p no:cacheprovider tests/test_hook.py tests/test_trigger.py \
		tests/test_hook_emulator.py tests/test_operator.py tests/test_operator_s3.py tests/test_provider_info.py \
		tests/test_sensor.py tests/test_authoring.py tests/test_lineage.py

demo: venv
	$(PY) -m airflow_provider_wan.demo

emulator: venv
	$(VENV)/bin/runware-emulator --host 127.0.0.1 --port 8765

bench: venv
	$(PY) -m benchmarks.run $(BENCH_ARGS)

soak: venv
	$(PY) -m benchmarks.soak $(SOAK_ARGS)

# The production topology on this machine: Postgres and Redis from Debian's packages (installed when missing),
# CeleryExecutor with two workers and two triggerers, all on loopback. See docs/benchmarks.md.
# WAN_SKIP_DISTRIBUTED=1 installs nothing: tests/test_soak_distributed.py then skips, naming the packages.
distributed-tools:
	@{ command -v redis-server && { command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; }; } >/dev/null 2>&1 || { \
		if [ "$${WAN_SKIP_DISTRIBUTED:-}" = 1 ]; then echo "postgresql/redis-server missing; WAN_SKIP_DISTRIBUTED=1:" \
			"the distributed soak tests are skipped" >&2; \
		elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq postgresql redis-server >/dev/null; \
		else echo "postgresql or redis-server is missing: sudo apt-get update &&" \
			"sudo apt-get install -y postgresql redis-server (or set WAN_SKIP_DISTRIBUTED=1)" >&2; exit 1; fi; }

soak-distributed: venv distributed-tools
	$(PY) -m benchmarks.soak_distributed $(SOAK_ARGS)

# docker-compose (Debian's v1) validates docker-compose.yml without a Docker engine; installed when missing.
# WAN_SKIP_COMPOSE=1 (environment or make argument) skips that validation on purpose: nothing is installed
# and tests/test_compose.py skips its docker-compose tests.
compose-tool:
	@command -v docker-compose >/dev/null 2>&1 || { \
		if [ "$${WAN_SKIP_COMPOSE:-}" = 1 ]; then echo "docker-compose is missing; WAN_SKIP_COMPOSE=1:" \
			"the docker-compose validation is skipped" >&2; \
		elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; \
		else echo "docker-compose is missing: sudo apt-get update && sudo apt-get install -y docker-compose" \
			"(or set WAN_SKIP_COMPOSE=1 to skip the compose tests)" >&2; exit 1; fi; }

# Debian's chromium, driven by Playwright from the dev environment (Playwright's own browser download is
# never used). Installed when missing; WAN_SKIP_UI=1 skips that and tests/ui skips its browser test.
CHROMIUM := /usr/bin/chromium
browser-tool:
	@test -x $(CHROMIUM) || { \
		if [ "$${WAN_SKIP_UI:-}" = 1 ]; then echo "chromium is missing; WAN_SKIP_UI=1: the browser test is skipped" >&2; \
		elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium is missing: sudo apt-get update && sudo apt-get install -y chromium" \
			"(or set WAN_SKIP_UI=1 to skip the browser test)" >&2; exit 1; fi; }

compose-check: venv compose-tool
	@if command -v docker-compose >/dev/null 2>&1; then docker-compose -f docker-compose.yml config -q; \
	else echo "docker-compose config -q: skipped (WAN_SKIP_COMPOSE=1)"; fi
	$(PY) -m pytest -q -p no:cacheprovider tests/test_compose.py

clean:
	rm -rf $(VENV) $(OLDEST) .airflow-home .mypy_cache .ruff_cache .pytest_cache demo-output test-artifacts
