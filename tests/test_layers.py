"""The import contracts (pyproject ``[tool.importlinter]``, run by ``make lint``) cover every module.

A contract lists modules by name, so a new provider module would escape it silently: this test fails
until the module is named in both "never imports the emulator" and "the emulator imports nothing of it".
"""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "airflow_provider_wan"
NOT_PROVIDER = {"emulator", "demo", "__init__"}


def _contract(name_start: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["name"].startswith(name_start)]
    return contract


def _provider_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    return {f"airflow_provider_wan.{n}" for n in names - NOT_PROVIDER}


def test_every_provider_module_is_kept_away_from_the_emulator() -> None:
    modules = _provider_modules()
    assert set(_contract("The provider never imports")["source_modules"]) == modules  # type: ignore[arg-type]
    forbidden = set(_contract("The emulator (a server)")["forbidden_modules"])  # type: ignore[arg-type]
    assert forbidden == modules | {"airflow_provider_wan.demo"}


def test_layers_name_the_dag_facing_modules_above_the_client() -> None:
    layers = _contract("Layers")["layers"]
    assert layers[0] == "airflow_provider_wan.operators | airflow_provider_wan.sensors"  # type: ignore[index]
    assert layers[-2:] == ["airflow_provider_wan.client", "airflow_provider_wan.models"]  # type: ignore[index]
