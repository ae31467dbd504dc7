"""ETL to video: a product catalogue becomes one short video per product, with a manifest in S3.

Use case: every night the shop's catalogue export (here ``data/products.csv``) is turned into product
videos for the web shop and social ads. This is the job ``make demo`` runs.

Pipeline:

1. ``extract_products``: read and validate the CSV (one dict per product).
2. ``build_requests``: a TaskFlow task writes one prompt per product and checks the whole batch against
   a run budget (``params.max_total_cost_usd``) *before anything is submitted*.
3. ``generate_video``: ``WanVideoOperator.partial(...).expand_kwargs(...)``: one mapped, deferrable task
   per product (each with its own ``max_cost_usd`` cap and ``retries``), landing each video in S3.
   Task UUIDs are derived from (dag, task, run, map index, request): a retry or a cleared run
   re-attaches to the videos already paid for.
4. ``write_manifest``: ``manifest.json`` next to the videos (per video: product, ``s3_uri``,
   ``video_url``, ``seed``, ``cost``, checksum; plus the total cost) and a readable summary in the log.

Everything lands under ``s3://<bucket>/wan-examples/etl/<ds>/``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from _wan_support import (
    AWS_CONN_ID,
    BUCKET,
    PREFIX,
    START_DATE,
    TAGS,
    default_args,
    poll_settings,
    s3_prefix,
)
from airflow.sdk import DAG, Param, task

from airflow_provider_wan.operators.video import WanVideoOperator

CATALOGUE = Path(__file__).parent / "data" / "products.csv"
REQUIRED_COLUMNS = ("sku", "name", "description", "style", "size", "duration", "seed")
MAX_COST_PER_VIDEO_USD = 0.50
PROMPT = (
    "Product video of {name}: {description}. Setting: {style}. The product is the hero of every frame, "
    "crisp focus, smooth camera motion, premium commercial look, no text."
)

with DAG(
    dag_id="example_wan_etl_to_video",
    description="Catalogue CSV -> one Wan2.7 video per product -> S3 + manifest",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    params={
        "max_total_cost_usd": Param(
            2.00, type="number", minimum=0, description="Refuse the batch if its estimate exceeds this."
        ),
    },
    tags=[*TAGS, "etl"],
    doc_md=__doc__,
) as dag:

    @task
    def extract_products() -> list[dict[str, str]]:
        """Read the catalogue export; fail loudly on a malformed file rather than generate garbage."""
        with CATALOGUE.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            raise ValueError(f"{CATALOGUE} has no products")
        missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
        if missing:
            raise ValueError(f"{CATALOGUE} lacks column(s) {', '.join(missing)}")
        print(f"Read {len(rows)} products from {CATALOGUE.name}")
        return rows

    @task
    def build_requests(products: list[dict[str, str]], max_total_cost_usd: Any) -> list[dict[str, Any]]:
        """One request per product; the whole batch is priced and checked before anything is submitted."""
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_wan.models import SIZE_PRESETS, WanVideoRequest
        from airflow_provider_wan.pricing import estimate

        budget = float(max_total_cost_usd)  # rendered from a template: a string
        requests: list[dict[str, Any]] = []
        total = 0.0
        for product in products:
            kwargs: dict[str, Any] = {
                "positive_prompt": PROMPT.format(**product),
                "size": product["size"],
                "duration": int(product["duration"]),
                "seed": int(product["seed"]),
            }
            preset = SIZE_PRESETS[kwargs["size"]]
            request = WanVideoRequest(
                positive_prompt=kwargs["positive_prompt"],
                width=preset.width,
                height=preset.height,
                duration=kwargs["duration"],
                seed=kwargs["seed"],
            )
            cost = estimate(request)
            total += cost.total_usd
            print(f"{product['sku']}: {cost.describe()}")
            requests.append(kwargs)
        print(f"Batch of {len(requests)} videos, estimated ${total:.2f} (budget ${budget:.2f})")
        if total > budget + 1e-9:
            # AirflowFailException: retrying cannot make the batch cheaper, so fail without retries.
            raise AirflowFailException(
                f"Estimated ${total:.2f} exceeds max_total_cost_usd ${budget:.2f}; nothing was submitted"
            )
        return requests

    products = extract_products()
    requests = build_requests(products, "{{ params.max_total_cost_usd }}")

    videos = WanVideoOperator.partial(
        task_id="generate_video",
        deferrable=True,
        max_cost_usd=MAX_COST_PER_VIDEO_USD,
        generate_audio=False,
        s3_destination=s3_prefix(PREFIX, "etl", "{{ ds }}", "videos"),
        aws_conn_id=AWS_CONN_ID,
        **poll_settings(),
    ).expand_kwargs(requests)

    @task
    def write_manifest(
        products: list[dict[str, str]], results: Any, bucket: str, run_date: str
    ) -> dict[str, Any]:
        """Write ``manifest.json`` next to the videos and log a readable summary."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        results = list(results)  # mapped XComs arrive in map-index order, i.e. catalogue order
        if len(results) != len(products):
            raise ValueError(f"{len(results)} results for {len(products)} products")
        entries = []
        for product, result in zip(products, results, strict=True):
            for video in result["videos"]:
                entries.append(
                    {
                        "sku": product["sku"],
                        "product": product["name"],
                        "task_uuid": result["task_uuid"],
                        "video_uuid": video["video_uuid"],
                        "s3_uri": video.get("s3_uri"),
                        "video_url": video["video_url"],
                        "seed": video.get("seed"),
                        "cost": video.get("cost"),
                        "sha256": video.get("sha256"),
                        "size_bytes": video.get("size_bytes"),
                    }
                )
        total = round(sum(e["cost"] or 0.0 for e in entries), 4)
        key = f"{PREFIX}/etl/{run_date}/manifest.json"
        manifest = {
            "run_date": run_date,
            "model": results[0]["model"] if results else None,
            "videos": entries,
            "video_count": len(entries),
            "total_cost": total,
        }
        S3Hook(aws_conn_id=AWS_CONN_ID).load_string(
            json.dumps(manifest, indent=2), key=key, bucket_name=bucket, replace=True
        )
        width = max((len(e["product"]) for e in entries), default=10)
        lines = [f"{'product'.ljust(width)}  {'cost':>6}  s3_uri"]
        lines += [f"{e['product'].ljust(width)}  ${e['cost'] or 0:>5.2f}  {e['s3_uri']}" for e in entries]
        lines.append(f"{'TOTAL'.ljust(width)}  ${total:>5.2f}  ({len(entries)} videos)")
        print("Product videos:\n" + "\n".join(lines))
        print(f"Manifest: s3://{bucket}/{key}")
        return {"manifest_uri": f"s3://{bucket}/{key}", "video_count": len(entries), "total_cost": total}

    write_manifest(products, videos.output, BUCKET, "{{ ds }}")
