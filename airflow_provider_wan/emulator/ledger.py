"""What the emulator saw and charged: the ground truth tests assert against (GET /_emulator/ledger).

Counters only, plus the per-task records that already exist in the job store and short bounded
logs of deliveries, so the ledger never grows per request.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .jobs import JobStore

DELIVERY_LOG_SIZE = 200
MAX_TASK_TYPE_KEYS = 64  # taskType strings come from clients: cap the distinct keys we keep


@dataclass
class DeliveryStats:
    delivered: int = 0  # deliveries that got a 2xx
    attempts: int = 0  # HTTP attempts including retries
    failed: int = 0  # deliveries that gave up after the last attempt
    skipped: int = 0  # targets neither loopback nor allowed (--allow-host): never contacted
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=DELIVERY_LOG_SIZE))

    def snapshot(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "attempts": self.attempts,
            "failed": self.failed,
            "skipped": self.skipped,
            "recent": list(self.log),
        }


class Ledger:
    def __init__(self) -> None:
        self.http_requests = 0
        self.requests: Counter[str] = Counter()
        self.submissions = 0
        self.conflicts = 0
        self.conflicts_by_task_type: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()  # accepted tasks per taskType (new taskUUIDs only)
        self.rejected: Counter[str] = Counter()  # error codes returned for tasks
        self.charge_events: Counter[str] = Counter()  # taskUUID -> number of charges
        self.charged_usd = 0.0
        self.get_response_requests = 0
        self.get_response_uuids_total = 0
        self.get_response_uuids_max = 0
        self.media_uploads = 0
        self.media_deletes = 0
        self.webhook = DeliveryStats()
        self.upload = DeliveryStats()
        self.faults: Counter[str] = Counter()
        self.auth_methods: Counter[str] = Counter()
        self.auth_failures = 0
        self.forbidden_requests = 0  # requests refused 403 because a key is in forbidden_keys
        self.url_refreshes = 0  # new videoURLs handed out for expired results (refresh_expired_urls)
        self.downloads = 0
        self.download_bytes = 0
        self.expired_downloads = 0

    def count_task_type(self, task_type: str) -> None:
        if task_type not in self.requests and len(self.requests) >= MAX_TASK_TYPE_KEYS:
            task_type = "<other>"
        self.requests[task_type] += 1

    def conflict(self, task_type: str) -> None:
        """A reused taskUUID was refused (any taskType)."""
        self.conflicts += 1
        self.conflicts_by_task_type[task_type] += 1

    def charge(self, task_uuid: str, amount: float) -> None:
        self.charge_events[task_uuid.lower()] += 1
        self.charged_usd = round(self.charged_usd + amount, 6)

    def note_get_response_batch(self, count: int) -> None:
        if count:
            self.get_response_requests += 1
            self.get_response_uuids_total += count
            self.get_response_uuids_max = max(self.get_response_uuids_max, count)

    def snapshot(self, jobs: JobStore, now: float, encodes: int) -> dict[str, Any]:
        records = [job.ledger_record(now) for job in jobs.jobs.values()]
        duplicates = sorted(uuid for uuid, count in self.charge_events.items() if count > 1)
        refunded = sum(
            job.costs[i]
            for job in jobs.jobs.values()
            for i in range(job.number_results)
            if job.status(i, now) == "error"
        )
        batches = self.get_response_requests
        return {
            "now": now,
            "http_requests": self.http_requests,
            "requests": dict(self.requests),
            "submissions": self.submissions,
            "conflicts": self.conflicts,
            "conflicts_by_task_type": dict(self.conflicts_by_task_type),
            "accepted": dict(self.accepted),
            "charged_usd": round(self.charged_usd, 4),
            "failed_results_usd": round(refunded, 4),
            "duplicates": len(duplicates),
            "duplicate_task_uuids": duplicates,
            "rejected": dict(self.rejected),
            "get_response_uuids_per_request": {
                "count": batches,
                "max": self.get_response_uuids_max,
                "total": self.get_response_uuids_total,
                "mean": round(self.get_response_uuids_total / batches, 3) if batches else 0.0,
            },
            "media_uploads": self.media_uploads,
            "media_deletes": self.media_deletes,
            "webhook_deliveries": self.webhook.delivered,
            "upload_deliveries": self.upload.delivered,
            "webhook": self.webhook.snapshot(),
            "upload": self.upload.snapshot(),
            "faults_injected": dict(self.faults),
            "auth_methods": dict(self.auth_methods),
            "auth_failures": self.auth_failures,
            "forbidden_requests": self.forbidden_requests,
            "downloads": self.downloads,
            "download_bytes": self.download_bytes,
            "expired_downloads": self.expired_downloads,
            "url_refreshes": self.url_refreshes,
            "encodes": encodes,
            "tasks": records,
        }
