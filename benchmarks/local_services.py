"""PostgreSQL and Redis from the OS packages, started on loopback for one run and removed afterwards.

``make soak-distributed`` installs Debian's ``postgresql`` and ``redis-server`` when missing; these classes
start private servers from those binaries (never the system services): a throw-away data directory, a free
port on 127.0.0.1, no persistence worth keeping (fsync off, no RDB/AOF), each in its own process group so a
stop, an exception or Ctrl-C leaves no process behind. As root, Postgres runs as the ``postgres`` user the
package creates (it refuses to run as root); otherwise as the current user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

from tests.e2e_support import free_port, stop_group

INSTALL_HINT = "sudo apt-get install -y postgresql redis-server (make soak-distributed does it as root)"


def postgres_binary(name: str) -> str:
    """``initdb``/``postgres`` from PATH or Debian's versioned directory (the newest version)."""
    found = shutil.which(name)
    if found and name != "postgres":  # Debian's PATH ``postgres`` may be missing; the versioned one is sure
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4] or 0)
    )
    if candidates:
        return candidates[-1]
    if found:
        return found
    raise FileNotFoundError(f"PostgreSQL's {name} is not installed: {INSTALL_HINT}")


S = TypeVar("S", bound="_Server")


class _Server:
    """A server process in its own group, logging to a file, stopped (and its files removed) on exit."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"wan-{self.name}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _spawn(self, argv: list[str], **kwargs: Any) -> None:
        self._log = (self.dir / f"{self.name}.log").open("wb")
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True, **kwargs,
        )  # fmt: skip

    def log_tail(self, lines: int = 20) -> str:
        path = self.dir / f"{self.name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _wait_ready(self, probe: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                probe()
                return
            except Exception as exc:  # not up yet: connection refused, starting up...
                last = exc
                time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready after {timeout}s ({last!r}):\n{self.log_tail()}")

    def start(self) -> None:
        raise NotImplementedError

    def __enter__(self: S) -> S:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        if self.process is not None:
            stop_group(self.process, grace=5.0)
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class PostgresServer(_Server):
    """``initdb`` + ``postgres`` on 127.0.0.1:<free port>, trust auth, database ``airflow``."""

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for Airflow's pooled connections
    user = "airflow"
    database = "airflow"

    def start(self, timeout: float = 90.0) -> None:
        import psycopg2  # type: ignore[import-untyped]

        run_as: dict[str, Any] = {}
        if os.geteuid() == 0:  # postgres refuses root: the package's ``postgres`` user owns the cluster
            shutil.chown(self.dir, "postgres", "postgres")
            run_as = {"user": "postgres", "group": "postgres", "extra_groups": []}
        data = self.dir / "data"
        init = subprocess.run(
            [postgres_binary("initdb"), "-D", str(data), "-U", self.user, "-A", "trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            capture_output=True, text=True, timeout=120, check=False, **run_as,
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stdout}{init.stderr}")
        self._spawn(
            [postgres_binary("postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port),
             "-k", str(self.dir), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=300"],
            **run_as,
        )  # fmt: skip

        def probe() -> None:
            psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres").close()

        self._wait_ready(probe, timeout)
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{self.database}"')
        connection.close()

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def celery_result_backend(self) -> str:
        return f"db+postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"


class RedisServer(_Server):
    """``redis-server`` on 127.0.0.1:<free port>, no RDB snapshots, no AOF: the Celery broker."""

    name = "redis"

    def start(self, timeout: float = 30.0) -> None:
        import redis

        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(f"redis-server is not installed: {INSTALL_HINT}")
        self._spawn(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--protected-mode", "yes", "--daemonize", "no", "--dir", str(self.dir)],
        )  # fmt: skip
        self._wait_ready(lambda: redis.Redis(host="127.0.0.1", port=self.port).ping(), timeout)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
