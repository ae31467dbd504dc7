"""Which local files media may be read from (docs/security.md, "Local files"): the allowed folders and the
one check that a path lies under them, as written and after resolving symlinks. No content is ever read here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_provider_wan.errors import InvalidRequestError


def local_roots(
    explicit: Sequence[str | os.PathLike[str]] | str | None = None, context: Mapping[str, Any] | None = None
) -> tuple[Path, ...]:
    """The folders local media may be read from (docs/security.md): ``explicit`` (the operator's
    ``allowed_local_roots``), else the ``[wan] allowed_local_roots`` setting (comma-separated; empty: no
    local files at all), else Airflow's ``[core] dags_folder`` and the running DAG's bundle folder."""
    from airflow_provider_wan.compat import conf

    parameter = "allowed_local_roots"
    if explicit is None:
        configured = conf.get("wan", "allowed_local_roots", fallback=None)
        if configured is not None:
            explicit, parameter = [r for r in configured.split(",") if r.strip()], "[wan] allowed_local_roots"
    if isinstance(explicit, str):
        explicit = [explicit]
    if explicit is not None:
        roots = [Path(os.fspath(r).strip()) for r in explicit]
        relative = [str(r) for r in roots if not r.is_absolute()]
        if relative:
            raise InvalidRequestError(f"folders must be absolute paths, got {relative}", parameter=parameter)
        return tuple(roots)
    found: list[object] = [conf.get("core", "dags_folder", fallback=None)]
    bundle = getattr((context or {}).get("ti"), "bundle_instance", None)
    found.append(getattr(bundle, "path", None))  # DAGs ship their own media next to their code
    paths = (Path(os.fspath(r)) for r in found if isinstance(r, (str, os.PathLike)) and os.fspath(r))
    return tuple(dict.fromkeys(p for p in paths if p.is_absolute()))


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def local_path(value: str, roots: Sequence[Path]) -> Path:
    """The resolved file a local reference names, refused unless it lies under ``roots`` both as written
    (so nothing outside is even looked at) and after resolving symlinks. ``~`` is not expanded."""
    text = value.strip()
    if text.lower().startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ValueError("file:// URIs must name a local file (file:///path)")
        text = unquote(parts.path)
    if text.startswith("~"):
        raise ValueError("'~' is not expanded: give the absolute path of a file under an allowed folder")
    written = Path(os.path.abspath(text))  # lexical: '..' folded, symlinks not followed yet
    resolved_roots = [root.resolve() for root in roots]
    outside = OutsideRoots(roots)
    if not _under(written, [*map(Path, map(os.path.abspath, roots)), *resolved_roots]):
        raise outside
    path = written.resolve(strict=True)  # FileNotFoundError: the caller says "not found"
    if not _under(path, resolved_roots):  # a symlink (or a symlinked folder) leading out
        raise outside
    return path


class OutsideRoots(ValueError):
    """A local reference outside the allowed folders (the message names them and the settings)."""

    def __init__(self, roots: Sequence[Path]) -> None:
        shown = ", ".join(str(r) for r in roots) or "none"
        super().__init__(
            f"is outside the folders local media may be read from (allowed: {shown}); "
            "set [wan] allowed_local_roots or the operator's allowed_local_roots"
        )
