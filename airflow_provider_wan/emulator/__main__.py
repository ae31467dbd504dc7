"""Command line: ``python -m airflow_provider_wan.emulator`` (console script ``runware-emulator``).

Every runtime knob is a flag ``--<knob>`` (underscores as dashes), also spelled ``--fault-<knob>``;
booleans take ``--<knob>`` / ``--no-<knob>``. Values are validated by the same pydantic model as
``POST /_emulator/faults``.
"""

from __future__ import annotations

import argparse
import socket
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .media import is_loopback_host
from .settings import DEFAULT_API_KEY, EmulatorSettings, Knobs


def _is_bool(annotation: Any) -> bool:
    if annotation is bool:
        return True
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and bool in typing.get_args(annotation)


def _is_tuple(annotation: Any) -> bool:
    return typing.get_origin(annotation) is tuple


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runware-emulator",
        description="Local emulator of the Runware REST API for Alibaba Wan2.7 (alibaba:wan@2.7).",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="Interface to bind (default 127.0.0.1; loopback only unless --allow-non-loopback).",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="Port to bind (default 8765); 0 picks a free one."
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help=f"Accepted API key; repeat for several (default: {DEFAULT_API_KEY}).",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="Seed for every random choice (default: nondeterministic)."
    )
    parser.add_argument(
        "--media-dir", default=None, help="Directory for uploaded media (default: a temp dir)."
    )
    parser.add_argument(
        "--video-cache-dir", default=None, help="Cache of encoded outputs (default: shared temp dir)."
    )
    parser.add_argument(
        "--public-url", default=None, help="Base URL for media links (default: as requested)."
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (default info).",
    )
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="Allow binding a non-loopback interface (the emulator has no real security).",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        dest="allowed_hosts",
        metavar="NAME",
        help="A non-loopback host the emulator may contact for media URLs, uploadEndpoint PUTs and "
        "webhookURL POSTs (exact name or IP, e.g. a docker-compose service such as s3); repeatable, "
        "or comma-separated. Loopback is always allowed; any other host is never contacted.",
    )
    knobs = parser.add_argument_group("knobs", "Runtime knobs; also settable via POST /_emulator/faults.")
    for name, field in Knobs.model_fields.items():
        flag = name.replace("_", "-")
        options = [f"--{flag}", f"--fault-{flag}"]
        help_text = f"{field.description or name} (default: {field.default})"
        if _is_bool(field.annotation):
            knobs.add_argument(
                *options, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif _is_tuple(field.annotation):
            knobs.add_argument(
                *options,
                dest=name,
                action="append",
                default=None,
                metavar="VALUE",
                help=f"{help_text}; repeatable or comma-separated",
            )
        else:
            knobs.add_argument(*options, dest=name, default=None, metavar="VALUE", help=help_text)
    return parser


def settings_from_args(args: argparse.Namespace) -> EmulatorSettings:
    values: dict[str, Any] = {
        name: getattr(args, name) for name in Knobs.model_fields if getattr(args, name) is not None
    }
    for name, field in Knobs.model_fields.items():
        if _is_tuple(field.annotation) and name in values:
            values[name] = tuple(item for entry in values[name] for item in entry.split(","))
    for name in ("seed", "media_dir", "video_cache_dir", "public_url"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.api_keys:
        values["api_keys"] = tuple(args.api_keys)
    if args.allowed_hosts:
        values["allowed_hosts"] = tuple(name for entry in args.allowed_hosts for name in entry.split(","))
    for name, value in list(values.items()):
        if (
            isinstance(value, str)
            and value.lower() in ("none", "null")
            and name in ("retry_after", "balance_usd")
        ):
            values[name] = None
    return EmulatorSettings.model_validate(values)


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not is_loopback_host(args.host) and not args.allow_non_loopback:
        parser.error(f"refusing to bind {args.host}: use a loopback address or --allow-non-loopback")
    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        parser.error(str(exc))
    app = create_app(settings)
    sock = bind_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    # The socket already listens, so the URL is usable as soon as it is printed.
    print(f"Runware emulator (Wan2.7) listening on http://{shown_host}:{port}/v1", flush=True)
    # Keys are secrets even here: name the documented demo key, count the others, print none of them.
    if settings.api_keys == (DEFAULT_API_KEY,):
        print(f"Accepted API key: the demo key {DEFAULT_API_KEY} (--api-key replaces it)", flush=True)
    else:
        print(f"Accepted API keys: {len(settings.api_keys)} given with --api-key (not shown)", flush=True)
    if settings.allowed_hosts:
        print(f"May contact, besides loopback: {', '.join(settings.allowed_hosts)}", flush=True)
    if settings.forbidden_keys:
        print(f"Keys without permission (403): {len(settings.forbidden_keys)} (not shown)", flush=True)
    print(
        f"Control: http://{shown_host}:{port}/_emulator/ledger  /_emulator/faults  /_emulator/reset",
        flush=True,
    )
    config = uvicorn.Config(app, log_level=args.log_level, lifespan="on", timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
