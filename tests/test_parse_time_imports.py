"""What a DAG file that uses ``WanVideoOperator`` imports while it is parsed (benchmark B5's budget).

The request model (pydantic), the generic request, pricing, results, redaction and the TaskFlow decorator
machinery are needed when a task runs, not when its DAG file is parsed; the parse-time checks
(``model=``, ``s3_input_mode=``, flags) still run there. Each probe is a fresh interpreter, so nothing
imported by the test session hides an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Modules that only execute(), validation or rendering need: none may load at parse time.
RUN_TIME_ONLY = (
    "airflow_provider_wan.models",
    "airflow_provider_wan.fields",
    "airflow_provider_wan.generic",
    "airflow_provider_wan.pricing",
    "airflow_provider_wan.results",
    "airflow_provider_wan.redaction",
    "airflow_provider_wan.client",
    "airflow_provider_wan.media.checks",
    "airflow.sdk.bases.decorator",
)

_PROBE = textwrap.dedent(
    """
    import json, sys
    from airflow.sdk import DAG, BaseOperator, BaseSensorOperator
    from airflow_provider_wan.operators.video import WanVideoOperator

    outcome = {}
    with DAG("b5_probe", schedule=None):
        WanVideoOperator(task_id="ok", positive_prompt="a fox", duration=5, model="alibaba:wan@2.6")
        loaded = sorted(sys.modules)  # a refusal's message may import more: that is not the parse path
        bad = (("model", {"model": "alibaba:wan@9"}), ("s3_input_mode", {"s3_input_mode": "x"}))
        for name, kwargs in bad:
            try:
                WanVideoOperator(task_id=f"bad_{name}", positive_prompt="a fox", **kwargs)
            except Exception as err:
                outcome[name] = [type(err).__name__, getattr(err, "parameter", None), str(err)]
    print(json.dumps({"loaded": loaded, "refused": outcome}))
    """
)


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_parsing_a_wan_dag_leaves_run_time_modules_unloaded(probe: dict[str, object]) -> None:
    loaded = set(probe["loaded"])  # type: ignore[call-overload]
    assert "airflow_provider_wan.operators.video" in loaded
    assert sorted(m for m in RUN_TIME_ONLY if m in loaded) == []


def test_parse_time_checks_still_refuse_bad_arguments(probe: dict[str, object]) -> None:
    refused = probe["refused"]
    assert isinstance(refused, dict)
    kind, parameter, message = refused["model"]
    assert (kind, parameter) == ("InvalidRequestError", "model")
    assert "'alibaba:wan@9'" in message and "alibaba:wan@2.7" in message
    kind, parameter, _ = refused["s3_input_mode"]
    assert (kind, parameter) == ("InvalidRequestError", "s3_input_mode")
