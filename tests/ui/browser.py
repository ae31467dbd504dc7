"""Headless Chromium (the system's ``chromium`` package) driven by Playwright, for the UI tests.

Playwright's own browser download is never used: ``make test`` installs Debian's ``chromium`` when it
is missing, and the tests skip with that hint when it is not there. Every response the browser receives
is recorded, so a test can check that a secret appears in none of them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("WAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
TEXT_TYPES = ("json", "text", "html", "javascript", "xml")


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file() or shutil.which(CHROMIUM) is not None


@dataclass
class ResponseLog:
    """Every response the pages of one browser context received: URL, status and (text) body."""

    seen: list[tuple[str, int, bytes]] = field(default_factory=list)

    def record(self, response: Any) -> None:
        kind = response.headers.get("content-type", "")
        body = b""
        if any(t in kind for t in TEXT_TYPES):
            try:
                body = response.body()
            except Exception:  # a redirect or an aborted request has no body to read
                body = b""
        self.seen.append((response.url, response.status, body))

    def holding(self, needles: Iterable[str]) -> list[tuple[str, str]]:
        """(url, needle) for every recorded response whose URL or body holds one of ``needles``."""
        found = []
        for url, _, body in self.seen:
            for needle in needles:
                if needle in url or needle.encode() in body:
                    found.append((url, needle))
        return found


@contextmanager
def browser_page(user_data_dir: Path) -> Iterator[tuple[Any, ResponseLog]]:
    """A page in a fresh Chromium profile, and the log of every response it receives."""
    from playwright.sync_api import sync_playwright

    log = ResponseLog()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=CHROMIUM,
            args=list(CHROMIUM_ARGS),
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(30_000)
        context.on("response", log.record)
        try:
            yield context.pages[0] if context.pages else context.new_page(), log
        finally:
            context.close()


def screenshot(page: Any, name: str, **kwargs: Any) -> Path:
    """Save a screenshot under ``test-artifacts/ui/`` (git-ignored) and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **kwargs)
    return path
