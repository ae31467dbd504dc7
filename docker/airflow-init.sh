#!/usr/bin/env bash
# One-shot initialisation of the compose stack's Airflow (service "airflow-init").
# Run as `command: ["bash", "/opt/wan/docker/airflow-init.sh"]` so the image's entrypoint has already
# waited for the metadata DB. Idempotent: safe on every `docker compose up`.
set -euo pipefail

# First of all: no published development secret may guard a real Runware key (docker/check_secrets.py).
# Every Airflow service waits for this script to succeed, so a refusal keeps them all down.
echo "== secrets check"
python /opt/wan/docker/check_secrets.py

echo "== airflow version"
airflow version
echo "== provider installed?"
airflow providers get airflow-provider-wan -o plain

echo "== airflow db migrate"
airflow db migrate

username="${_AIRFLOW_WWW_USER_USERNAME:-airflow}"
echo "== admin user '${username}' (created once; an existing user is left unchanged)"
airflow users create \
    --username "${username}" \
    --password "${_AIRFLOW_WWW_USER_PASSWORD:-airflow}" \
    --firstname Airflow \
    --lastname Admin \
    --email "${_AIRFLOW_WWW_USER_EMAIL:-admin@example.org}" \
    --role Admin

# Say where runware_default points (host only: never the key), and catch the easy mistake of setting
# RUNWARE_API_KEY without RUNWARE_BASE_URL (the real key would then be sent to the local emulator).
python - <<'PY'
import json, os

raw = os.environ.get("AIRFLOW_CONN_RUNWARE_DEFAULT", "")
try:
    conn = json.loads(raw)
except ValueError:
    print("== runware_default: not JSON (URI form?); not inspected")
else:
    host = conn.get("host") or "https://api.runware.ai/v1"
    demo = conn.get("password") == "runware-emulator-key"
    print(f"== runware_default -> {host} ({'emulator demo key' if demo else 'custom API key'})")
    if "runware-emulator" in host and not demo:
        print(
            "WARNING: RUNWARE_API_KEY is set but runware_default still points at the local emulator, "
            "which only accepts 'runware-emulator-key'. To use the real API also set "
            "RUNWARE_BASE_URL=https://api.runware.ai/v1."
        )
    if "runware-emulator" not in host and demo:
        print("WARNING: runware_default points at a real endpoint with the emulator's demo key.")
PY
echo "== airflow-init done"
