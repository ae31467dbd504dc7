"""The docker-compose stack (docker-compose.yml + docker/): validated without a Docker engine.

* ``docker-compose config`` (Debian's v1, which needs no engine) must accept the file. A missing
  ``docker-compose`` FAILS the test with install instructions (``make compose-check`` installs it);
  set ``WAN_SKIP_COMPOSE=1`` to skip those tests deliberately.
* The structure is asserted on the YAML itself (PyYAML resolves the anchors): services, healthchecks,
  ``depends_on`` conditions, CeleryExecutor, the provider image, both connections, the DAGs mount, ports.
* The moving parts that can run here do run: the emulator CLI parses the compose command line, the
  connections resolve through the real hooks, and the bucket script creates its bucket in moto.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKER_DIR = ROOT / "docker"

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
ONE_SHOT_SERVICES = {"airflow-init", "s3-init"}
EXPECTED_SERVICES = AIRFLOW_SERVICES | {"postgres", "redis", "runware-emulator", "s3", "s3-init"}
# The only host ports the stack publishes (documented in docs/deploy.md), all on loopback.
DOCUMENTED_PORTS = {"airflow-api-server": 8080, "runware-emulator": 8765, "s3": 5000}
HEALTHCHECK_MARKERS = {
    "postgres": "pg_isready",
    "redis": "redis-cli ping",
    "airflow-api-server": "/api/v2/monitor/health",
    "airflow-scheduler": "airflow jobs check --job-type SchedulerJob",
    "airflow-dag-processor": "airflow jobs check --job-type DagProcessorJob",
    "airflow-triggerer": "airflow jobs check --job-type TriggererJob",
    "airflow-worker": "inspect ping",
    "runware-emulator": "/_emulator/health",
    "s3": "/moto-api/",
}
DAGS_MOUNT = "./dags_examples:/opt/airflow/dags"
EMULATOR_URL = "http://runware-emulator:8765/v1"

# ``${X:-d}`` and ``${X-d}`` (``colon`` tells them apart; tests/security/test_compose_secrets.py needs it).
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<colon>:?)-(?P<default>[^}]*))?\}")
# The emulator's videos come over plain http from the compose network (docker/check_secrets.py refuses
# these with a real endpoint).
EMULATOR_DOWNLOADS = {
    "download_allow_http": "true",
    "download_allowed_networks": "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16",
}


# -- helpers ------------------------------------------------------------------------------------------


def interpolate(value: str) -> str:
    """Compose-style ``${VAR:-default}`` with an empty environment (every variable takes its default)."""
    assert "$$" not in value.replace("$${HOSTNAME}", ""), value
    return _VAR.sub(lambda m: m.group("default") or "", value)


def command_text(test: Any) -> str:
    """A healthcheck ``test`` (list or string) as one command line."""
    if isinstance(test, str):
        return test
    assert isinstance(test, list) and test, test
    parts = test[1:] if test[0] in ("CMD", "CMD-SHELL") else test
    return " ".join(str(part) for part in parts)


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on", {})
    assert isinstance(deps, dict), "depends_on must use the long form with conditions"
    return {name: spec.get("condition", "") for name, spec in deps.items()}


def runware_conn_json(env: Mapping[str, str]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(interpolate(env["AIRFLOW_CONN_RUNWARE_DEFAULT"]))
    return parsed


def aws_conn_json(env: Mapping[str, str]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(interpolate(env["AIRFLOW_CONN_AWS_DEFAULT"]))
    return parsed


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


# -- docker-compose itself ----------------------------------------------------------------------------


def _docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe:
        return exe
    if os.environ.get("WAN_SKIP_COMPOSE") == "1":
        pytest.skip("docker-compose not installed and WAN_SKIP_COMPOSE=1")
    pytest.fail(
        "docker-compose (v1) is not installed, so docker-compose.yml cannot be validated. Install it with "
        "`apt-get update && apt-get install -y docker-compose` (as root; `make compose-check` does this) "
        "or set WAN_SKIP_COMPOSE=1 to skip the compose validation on purpose.",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def run_compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    exe = _docker_compose()
    empty_env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    empty_env_file.write_text("")

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        # A clean environment (no RUNWARE_*, no repo .env): results do not depend on the developer's shell.
        base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        return subprocess.run(
            [exe, "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE), *args],
            cwd=ROOT,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    yield run


def test_docker_compose_config_validates(run_compose: Any) -> None:
    proc = run_compose("config", "-q")
    assert proc.returncode == 0, f"docker-compose config -q failed:\n{proc.stdout}\n{proc.stderr}"


def test_docker_compose_resolves_connections_and_ports(run_compose: Any) -> None:
    proc = run_compose("config")
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)["services"]
    for name in AIRFLOW_SERVICES:
        env = resolved[name]["environment"]
        conn = json.loads(env["AIRFLOW_CONN_RUNWARE_DEFAULT"])
        assert conn["host"] == EMULATOR_URL
        assert conn["password"] == "runware-emulator-key"
        assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == "http://s3:5000"
    published = {
        name: [str(port) for port in service.get("ports", [])]
        for name, service in resolved.items()
        if service.get("ports")
    }
    expected = {name: [f"127.0.0.1:{port}:{port}/tcp"] for name, port in DOCUMENTED_PORTS.items()}
    assert published == expected, published


def test_docker_compose_switches_to_the_real_api(run_compose: Any) -> None:
    proc = run_compose(
        "config",
        RUNWARE_API_KEY="k3yFromTheShell0123",
        RUNWARE_BASE_URL="https://api.runware.ai/v1",
        RUNWARE_DOWNLOAD_ALLOW_HTTP="false",
        RUNWARE_DOWNLOAD_ALLOWED_NETWORKS="",
    )
    assert proc.returncode == 0, proc.stderr
    env = yaml.safe_load(proc.stdout)["services"]["airflow-worker"]["environment"]
    conn = json.loads(env["AIRFLOW_CONN_RUNWARE_DEFAULT"])
    assert conn == {
        "conn_type": "runware",
        "host": "https://api.runware.ai/v1",
        "password": "k3yFromTheShell0123",
        "extra": {"timeout": 60, "download_allow_http": "false", "download_allowed_networks": ""},
    }


# -- structure ----------------------------------------------------------------------------------------


def test_services_present(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == EXPECTED_SERVICES


def test_shared_airflow_config_is_one_yaml_anchor(services: dict[str, dict[str, Any]]) -> None:
    text = COMPOSE_FILE.read_text()
    assert "x-airflow-common: &airflow-common" in text
    assert text.count("<<: *airflow-common\n") == len(AIRFLOW_SERVICES)
    envs = [services[name]["environment"] for name in AIRFLOW_SERVICES]
    shared_keys = set.intersection(*(set(env) for env in envs))
    for key in ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert key in shared_keys
        assert len({env[key] for env in envs}) == 1, f"{key} differs between Airflow services"


def test_every_long_running_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            # One-shot jobs are gated on exit status (service_completed_successfully), not health.
            assert service.get("restart") == "no", name
            assert "ports" not in service, name
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        text = command_text(check["test"])
        assert HEALTHCHECK_MARKERS[name] in text, f"{name}: {text!r}"
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name} healthcheck lacks {key}"


def test_depends_on_uses_conditions(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dep, condition in depends_on(service).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if dep in ONE_SHOT_SERVICES:
                assert condition == "service_completed_successfully", (name, dep, condition)
            else:
                assert condition == "service_healthy", (name, dep, condition)
                assert "healthcheck" in services[dep], (name, dep)
    for name in AIRFLOW_SERVICES:
        deps = depends_on(services[name])
        assert deps.get("postgres") == deps.get("redis") == "service_healthy", name
        if name != "airflow-init":
            assert deps.get("airflow-init") == "service_completed_successfully", name
    worker = depends_on(services["airflow-worker"])
    assert worker["airflow-api-server"] == "service_healthy"  # the execution API
    assert worker["runware-emulator"] == "service_healthy"
    assert worker["s3-init"] == "service_completed_successfully"  # the demo bucket exists
    assert depends_on(services["s3-init"]) == {"s3": "service_healthy"}


def test_dependency_graph_is_acyclic(services: dict[str, dict[str, Any]]) -> None:
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert state.get(name) != "open", f"cycle: {' -> '.join((*path, name))}"
        if state.get(name) == "done":
            return
        state[name] = "open"
        for dep in depends_on(services[name]):
            visit(dep, (*path, name))
        state[name] = "done"

    for name in services:
        visit(name, ())


def test_celery_executor_and_low_parallelism(services: dict[str, dict[str, Any]]) -> None:
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert re.fullmatch(r"redis://[^/]*@redis:6379/\d+", env["AIRFLOW__CELERY__BROKER_URL"])
        assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-api-server:8080/execution/"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
        assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 8
        assert int(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) <= 4
        assert int(env["AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES"]) <= 2
    assert services["airflow-worker"]["command"] == "celery worker"
    for name, command in {
        "airflow-api-server": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }.items():
        assert services[name]["command"] == command


def test_airflow_services_run_the_provider_image(services: dict[str, dict[str, Any]]) -> None:
    images = {interpolate(services[name]["image"]) for name in (*AIRFLOW_SERVICES, "runware-emulator")}
    assert len(images) == 1, images
    for name in (*AIRFLOW_SERVICES, "runware-emulator"):
        build = services[name]["build"]
        assert build == {"context": ".", "dockerfile": "docker/Dockerfile"}, name


def test_dockerfile_installs_the_provider_from_the_checkout() -> None:
    dockerfile = (DOCKER_DIR / "Dockerfile").read_text()
    assert "apache/airflow:3.3.2-python3.11" in dockerfile
    assert re.search(r"pip install .*\"apache-airflow==\$\{AIRFLOW_VERSION\}\"", dockerfile)
    assert '"/opt/wan/src[amazon,emulator]"' in dockerfile
    assert "airflow providers get airflow-provider-wan" in dockerfile
    # Every COPY source exists and is allowed by the Dockerfile-specific .dockerignore (an allow-list).
    allowed = {
        line[1:].strip()
        for line in (DOCKER_DIR / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    sources = [
        src
        for line in dockerfile.splitlines()
        if line.startswith("COPY ")
        for src in [part for part in line.split()[1:] if not part.startswith("--")][:-1]
    ]
    assert sources, "no COPY lines found"
    for src in sources:
        assert (ROOT / src).exists(), src
        assert src in allowed, f"{src} is copied but excluded from the build context"


def test_init_script_migrates_and_creates_the_admin_user(services: dict[str, dict[str, Any]]) -> None:
    init = services["airflow-init"]
    assert init["command"] == ["bash", "/opt/wan/docker/airflow-init.sh"]
    assert "entrypoint" not in init  # the image's entrypoint waits for the DB before running bash
    script = (DOCKER_DIR / "airflow-init.sh").read_text()
    assert "set -euo pipefail" in script
    assert "\nairflow db migrate\n" in script
    assert "airflow users create" in script and "--role Admin" in script
    bash = shutil.which("bash")
    if bash:
        subprocess.run([bash, "-n", str(DOCKER_DIR / "airflow-init.sh")], check=True)


def test_both_connections_in_every_airflow_process(services: dict[str, dict[str, Any]]) -> None:
    from airflow_provider_wan.emulator.settings import DEFAULT_API_KEY

    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        runware = runware_conn_json(env)
        assert runware == {
            "conn_type": "runware",
            "host": EMULATOR_URL,
            "password": DEFAULT_API_KEY,
            "extra": {"timeout": 60, **EMULATOR_DOWNLOADS},
        }
        assert "${RUNWARE_API_KEY:-" in env["AIRFLOW_CONN_RUNWARE_DEFAULT"]
        assert "${RUNWARE_BASE_URL:-" in env["AIRFLOW_CONN_RUNWARE_DEFAULT"]
        aws = aws_conn_json(env)
        assert aws["conn_type"] == "aws"
        assert aws["extra"]["endpoint_url"] == "http://s3:5000"


def test_compose_connections_resolve_through_the_hooks(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_wan.hooks.runware import RunwareHook

    env = services["airflow-worker"]["environment"]
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", interpolate(env["AIRFLOW_CONN_RUNWARE_DEFAULT"]))
    config = RunwareHook().config
    assert config.base_url == EMULATOR_URL
    assert config.timeout == 60


def test_aws_connection_works_with_s3hook(
    services: dict[str, dict[str, Any]], moto_s3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compose ``aws_default`` (endpoint swapped for the local moto) works with the amazon S3Hook."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    conn = aws_conn_json(services["airflow-worker"]["environment"])
    conn["extra"]["endpoint_url"] = moto_s3
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    hook = S3Hook(aws_conn_id="aws_default")
    hook.create_bucket(bucket_name="compose-check")
    hook.load_bytes(b"ok", key="probe", bucket_name="compose-check")
    assert hook.read_key("probe", bucket_name="compose-check") == "ok"


def test_dags_examples_mounted(services: dict[str, dict[str, Any]]) -> None:
    assert (ROOT / "dags_examples").is_dir()
    for name in AIRFLOW_SERVICES:
        volumes = services[name]["volumes"]
        assert any(v.split(":")[:2] == DAGS_MOUNT.split(":") for v in volumes), (name, volumes)
        assert services[name]["environment"]["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"


def test_only_documented_ports_published_on_loopback(services: dict[str, dict[str, Any]]) -> None:
    deploy_doc = (ROOT / "docs" / "deploy.md").read_text()
    published: dict[str, list[tuple[str, str, str]]] = {}
    for name, service in services.items():
        assert service.get("network_mode") != "host", name
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the 'IP:HOST:CONTAINER' string form"
            host_ip, host_port, container_port = interpolate(port).split(":")
            published.setdefault(name, []).append((host_ip, host_port, container_port))
    assert set(published) == set(DOCUMENTED_PORTS)
    for name, port in DOCUMENTED_PORTS.items():
        assert published[name] == [("127.0.0.1", str(port), str(port))], published[name]
        assert f"`{port}`" in deploy_doc or f":{port}" in deploy_doc, f"port {port} not in docs/deploy.md"


def test_emulator_service_command_is_accepted_by_the_emulator_cli(
    services: dict[str, dict[str, Any]],
) -> None:
    from airflow_provider_wan.emulator.__main__ import build_parser

    emulator = services["runware-emulator"]
    command = emulator["command"]
    assert command[0] == "runware-emulator"
    args = build_parser().parse_args(command[1:])
    assert (args.host, args.port) == ("0.0.0.0", 8765)
    assert args.allow_non_loopback  # otherwise the CLI refuses to listen on 0.0.0.0
    assert emulator["entrypoint"] == ["/usr/bin/dumb-init", "--"]  # not the Airflow entrypoint


def test_s3_service_is_moto_and_creates_the_demo_bucket(services: dict[str, dict[str, Any]]) -> None:
    s3 = services["s3"]
    assert s3["command"] == ["moto_server", "-H", "0.0.0.0", "-p", "5000"]
    moto_dockerfile = (DOCKER_DIR / s3["build"]["dockerfile"]).read_text()
    assert "moto[server" in moto_dockerfile and "COPY create_bucket.py" in moto_dockerfile
    assert not any("minio" in str(service.get("image", "")).lower() for service in services.values())
    init = services["s3-init"]
    assert init["build"] == s3["build"] and init["image"] == s3["image"]
    assert init["command"] == ["python", "/opt/wan/create_bucket.py"]
    assert init["environment"]["S3_ENDPOINT_URL"] == "http://s3:5000"


def test_bucket_script_creates_the_bucket_idempotently(
    moto_s3: str, s3_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", moto_s3)
    monkeypatch.setenv("WAN_S3_BUCKET", "wan-videos")
    main = runpy.run_path(str(DOCKER_DIR / "create_bucket.py"))["main"]
    assert main([]) == 0
    assert main([]) == 0  # a second `docker compose up` finds it already there
    names = {bucket["Name"] for bucket in s3_client.list_buckets()["Buckets"]}
    assert "wan-videos" in names
