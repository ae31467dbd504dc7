"""Everything one emulator instance holds: settings, knobs, clock, RNGs, stores and the ledger."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .card import Card
from .delivery import DeliveryScheduler
from .downloads import ByteSource, padded_source
from .encoder import RenderSpec, VideoCache, default_cache_dir, scaled_spec
from .faults import FaultInjector
from .inputs import InputStore
from .jobs import Job, JobStore, KeptInputs
from .ledger import Ledger
from .media import HostPolicy, MediaLoader, MediaStore
from .records import TaskRecords
from .settings import EmulatorSettings, Knobs


class EmulatorState:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.knobs: Knobs = settings.knobs()
        self.api_keys = frozenset(settings.api_keys)
        self._owned_dir: Path | None = None
        if settings.media_dir:
            root = Path(settings.media_dir)
        else:
            root = Path(tempfile.mkdtemp(prefix="runware-emulator-"))
            self._owned_dir = root
        self.hosts = HostPolicy(settings.allowed_hosts)  # loopback + --allow-host: all it may contact
        self.media = MediaStore(root / "uploads")
        self.loader = MediaLoader(self.media, root / "scratch", settings.max_media_bytes, self.hosts)
        self.inputs = InputStore(root / "inputs")  # what the videos show, kept until reset
        cache_dir = Path(settings.video_cache_dir) if settings.video_cache_dir else default_cache_dir()
        self.videos = VideoCache(cache_dir)
        self.jobs = JobStore()
        self.records = TaskRecords()
        self.ledger = Ledger()
        self.clock_offset = 0.0
        self._seed_rngs()
        self.deliveries = DeliveryScheduler(self, self._delivery_rng)

    def _seed_rngs(self) -> None:
        # Separate streams so that turning on a fault does not change job outcomes, and vice versa.
        base = self.settings.seed if self.settings.seed is not None else random.SystemRandom().getrandbits(63)
        self.rng = random.Random(base)
        self.faults = FaultInjector(random.Random(base + 1))
        self._delivery_rng = random.Random(base + 2)
        self._url_rng = random.Random(base + 3)

    def new_url_token(self) -> str:
        """A fresh signed-URL token (refresh_expired_urls): 128 random bits, reproducible under --seed."""
        return f"{self._url_rng.getrandbits(128):032x}"

    def task_uuid_taken(self, task_uuid: str) -> bool:
        """True when an accepted task of any type holds ``task_uuid``, or one being handled reserved it."""
        return (
            self.jobs.get(task_uuid) is not None
            or self.records.get(task_uuid) is not None
            or self.records.is_reserved(task_uuid)
        )

    def now(self) -> float:
        """Emulator time: wall clock plus whatever /_emulator/clock advanced it by."""
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        self.clock_offset += seconds
        self.deliveries.poke()

    def update_knobs(self, updates: dict[str, Any]) -> Knobs:
        """Merge ``updates`` into the knobs; raises pydantic.ValidationError on bad names/values."""
        self.knobs = Knobs.model_validate({**self.knobs.model_dump(), **updates})
        return self.knobs

    def reset(self, *, keep_faults: bool = False) -> None:
        self.jobs.clear()
        self.records.clear()
        self.media.clear()
        self.loader.clear_scratch()
        self.inputs.clear()
        self.deliveries.clear()
        self.ledger = Ledger()
        self.clock_offset = 0.0
        if not keep_faults:
            self.knobs = self.settings.knobs()  # start-up values: faults set at runtime are cleared
        self._seed_rngs()
        self.deliveries.rng = self._delivery_rng

    @staticmethod
    def output_spec(job: Job, index: int) -> RenderSpec:
        """What result ``index`` looks like: its size, container, audio, and the test card of its request
        and seed. Input audio, when given, is the track even with settings.audio off."""
        inputs = job.inputs or KeptInputs()
        sound = "input audio" if inputs.audio else "tone" if job.audio else "none"
        card = Card(
            prompt=str(job.request.get("positivePrompt") or ""),
            negative_prompt=str(job.request.get("negativePrompt") or ""),
            model=str(job.request.get("model") or ""),
            task_uuid=job.task_uuid,
            seed=job.seeds[index],
            width=job.width,
            height=job.height,
            duration=job.duration,
            sound=sound,
            inputs=inputs,
        )
        return scaled_spec(
            job.width, job.height, job.duration, job.extension, sound != "none", job.render_scale, card
        )

    async def output_source(self, job: Job, index: int) -> ByteSource:
        """The bytes of result ``index``: the cached encode, padded when the job asked for it."""
        path = await self.videos.get(self.output_spec(job, index))
        return padded_source(path, job.pad_bytes if job.extension == "mp4" else 0)

    async def aclose(self) -> None:
        await self.deliveries.aclose()
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None
