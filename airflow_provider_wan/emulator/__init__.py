"""Local emulator of the Runware REST API for Alibaba's Wan2.7 video model.

It plays the server in tests and demos: ``create_app()`` for in-process ASGI use,
``testing.running_emulator()`` for a real loopback server, ``python -m airflow_provider_wan.emulator``
for a standalone one. It deliberately imports nothing from the provider (it is the test oracle).
"""

from .app import create_app
from .settings import DEFAULT_API_KEY, EmulatorSettings, Knobs
from .validation import validate_video_inference

__all__ = ["DEFAULT_API_KEY", "EmulatorSettings", "Knobs", "create_app", "validate_video_inference"]
