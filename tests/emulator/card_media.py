"""Media for the test-card checks: distinct pictures, tone clips, and measuring what a video shows and plays.

Used by the emulator's card tests and the end-to-end test through the provider (which decodes a video
landed in S3): the comparison is perceptual (mean absolute difference on a small thumbnail), not bytes.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from typing import Any

import av
from PIL import Image, ImageDraw

THUMB = (32, 18)


def picture(width: int, height: int, hue: int) -> Image.Image:
    """A picture with structure (quadrants, a diagonal and a disc) that no test card resembles."""
    image = Image.new("RGB", (width, height), ((hue * 3) % 256, 40, 255 - hue))
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 0, width // 2, height // 2), fill=(250, 220, hue))
    pen.rectangle((width // 2, height // 2, width, height), fill=(20, hue, 200))
    pen.line((0, height, width, 0), fill=(255, 255, 255), width=max(2, width // 20))
    pen.ellipse((width // 3, height // 3, 2 * width // 3, 2 * height // 3), fill=(hue, 255 - hue, 60))
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def tone_wav(seconds: float, rate: int = 44_100, hz: float = 440.0) -> bytes:
    """A loud sine of ``seconds`` (mono, 16 bit): easy to tell from silence and from the emulator's tone."""
    samples = int(seconds * rate)
    data = struct.pack(
        f"<{samples}h", *(int(16000 * math.sin(2 * math.pi * hz * n / rate)) for n in range(samples))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data)
    return buffer.getvalue()


def clip_mp4(colours: list[tuple[int, int, int]], size: tuple[int, int] = (64, 36), fps: int = 10) -> bytes:
    """A short H.264 clip, one frame per colour (a reference video whose last frame is known)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream: Any = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index, colour in enumerate(colours):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, colour)).reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def frames(video: bytes) -> list[Image.Image]:
    with av.open(io.BytesIO(video)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference (0..255) of two pictures scaled to a 32x18 thumbnail."""
    small_a = a.convert("RGB").resize(THUMB, Image.Resampling.BOX).tobytes()
    small_b = b.convert("RGB").resize(THUMB, Image.Resampling.BOX).tobytes()
    return sum(abs(x - y) for x, y in zip(small_a, small_b, strict=True)) / len(small_a)


def audio_profile(video: bytes, window: float = 0.1) -> tuple[float, float]:
    """(seconds of audio in the track, seconds until the last window louder than near-silence)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
    samples: list[float] = []
    with av.open(io.BytesIO(video)) as container:
        for decoded in container.decode(audio=0):
            for chunk in resampler.resample(decoded):
                raw = bytes(chunk.planes[0])[: chunk.samples * 4]
                samples.extend(struct.unpack(f"<{chunk.samples}f", raw))
    step = int(48_000 * window)
    loud_until = 0.0
    for start in range(0, len(samples), step):
        part = samples[start : start + step]
        if math.sqrt(sum(v * v for v in part) / len(part)) > 0.05:
            loud_until = (start + len(part)) / 48_000
    return len(samples) / 48_000, loud_until
