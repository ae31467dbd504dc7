"""The test card an emulated video shows: what was asked, drawn as text, plus the inputs' pictures.

A card is drawn once per encode with Pillow (text, thumbnails) and converted to YUV 4:2:0 once; every
frame then copies those planes and draws a moving square and a progress bar into a few rows, so the
per-frame cost stays that of a memory copy. With ``frameImages`` the first frames show the "first" image
and the last frames the "last" image (each scaled to cover the output size); a ``referenceVideos``
continuation starts from the reference's last frame.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont, ImageOps

from .jobs import KeptInputs

Planes = tuple[bytes, bytes, bytes]  # Y, U, V of one yuv420p frame, rows packed at the plane width
FramePlanes = tuple[bytes | bytearray, ...]
_WHITE_Y, _NEUTRAL_C = 235, 128  # video-range white, no colour
_TEXT = (240, 240, 240)
_DIM = (170, 180, 190)


@dataclass(frozen=True)
class Card:
    """What a result was asked for; everything here is drawn, and all of it goes into :meth:`key`."""

    prompt: str = ""
    negative_prompt: str = ""
    model: str = ""
    task_uuid: str = ""
    seed: int | None = None
    width: int = 0  # as requested (the encode may be smaller under media_scale)
    height: int = 0
    duration: int = 0
    sound: str = ""  # what the audio track carries: "input audio", "tone" or "none"
    inputs: KeptInputs = field(default_factory=KeptInputs)

    def key(self) -> str:
        """64-bit hex digest of the card's content (the encode's cache key and look)."""
        material = [
            self.prompt,
            self.negative_prompt,
            self.model,
            self.task_uuid,
            self.seed,
            self.width,
            self.height,
            self.duration,
            self.sound,
            self.inputs.names(),
        ]
        return hashlib.sha256(json.dumps(material, ensure_ascii=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Frames:
    """The pictures of one encode: the card, and the frames held at the start and the end."""

    card: Planes
    opening: Planes | None  # the "first" frame image, or the reference video's last frame
    closing: Planes | None  # the "last" frame image
    hold: int  # frames the opening/closing pictures are held
    square: int  # side of the moving square, px (even)

    def frame(self, index: int, total: int, width: int, height: int) -> FramePlanes:
        if self.opening is not None and index < self.hold:
            return self.opening
        if self.closing is not None and index >= total - self.hold:
            return self.closing
        return self._moving(index, total, width, height)

    def _moving(self, index: int, total: int, width: int, height: int) -> FramePlanes:
        s = self.square
        bar = max(2, s // 4 // 2 * 2)
        bar_y = height - bar - (height // 40) // 2 * 2
        y0 = bar_y - s - bar
        span = max(1, width - s)
        swing = (index * max(2, width // 24)) % (2 * span)  # bounces left and right
        x = swing if swing < span else 2 * span - swing
        x -= x % 2
        filled = width * (index + 1) // max(1, total)
        planes = [bytearray(p) for p in self.card]
        _box(planes, width, x, y0, s, s)
        _box(planes, width, 0, bar_y, filled - filled % 2, bar)
        return tuple(planes)


def _box(planes: list[bytearray], width: int, x: int, y: int, w: int, h: int) -> None:
    """A white rectangle (even x, y, w, h) in packed yuv420p planes."""
    if w <= 0 or h <= 0:
        return
    luma, cw = planes[0], width // 2
    white, neutral = bytes([_WHITE_Y]) * w, bytes([_NEUTRAL_C]) * (w // 2)
    for row in range(y, y + h):
        luma[row * width + x : row * width + x + w] = white
    for chroma in planes[1:]:
        for row in range(y // 2, (y + h) // 2):
            chroma[row * cw + x // 2 : row * cw + x // 2 + w // 2] = neutral


def draw_frames(card: Card, width: int, height: int, fps: int, tint: tuple[int, int, int]) -> Frames:
    """Every picture an encode of ``card`` at ``width`` x ``height`` needs (blocking)."""
    inputs = card.inputs
    opening_image = _picture(inputs.first_image) if inputs.first_image else None
    if opening_image is None and inputs.reference_video:
        opening_image = last_video_frame(inputs.reference_video)
    closing_image = _picture(inputs.last_image) if inputs.last_image else None
    canvas = _draw_card(card, width, height, tint, opening_image, closing_image)
    square = max(2, min(width, height) // 14 // 2 * 2)
    return Frames(
        card=to_planes(canvas),
        opening=to_planes(_cover(opening_image, width, height)) if opening_image else None,
        closing=to_planes(_cover(closing_image, width, height)) if closing_image else None,
        hold=max(1, fps // 2),
        square=square,
    )


def to_planes(image: Image.Image) -> Planes:
    """RGB picture -> packed yuv420p planes (BT.601 video range, as the encoder's frames)."""
    rgb = av.VideoFrame.from_image(image.convert("RGB"))  # type: ignore[no-untyped-call]
    frame = rgb.reformat(format="yuv420p")
    packed = []
    for plane in frame.planes:
        data, line = bytes(plane), plane.line_size
        packed.append(b"".join(data[r * line : r * line + plane.width] for r in range(plane.height)))
    return packed[0], packed[1], packed[2]


def _picture(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError):
        return None  # sniffed as an image but not decodable: the card still shows the rest


def last_video_frame(path: Path) -> Image.Image | None:
    """The last decodable frame of a video (seeks near the end first, so long clips stay cheap)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if container.duration and container.duration > 2_000_000:
                container.seek(container.duration - 2_000_000, backward=True, any_frame=False)
            last = None
            for frame in container.decode(stream):
                last = frame
            return last.to_image() if last is not None else None  # type: ignore[no-untyped-call]
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return None


def _cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scaled to cover ``width`` x ``height``, centred, the overflow cropped (aspect kept)."""
    return ImageOps.fit(image, (width, height), Image.Resampling.BILINEAR)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, size))


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, lines: int) -> list[str]:
    """Greedy word wrap into at most ``lines`` lines; the last one ends in an ellipsis if cut."""
    out: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
        while font.getlength(current) > width and len(current) > 1:  # a word wider than a line
            cut = len(current) - 1
            while cut > 1 and font.getlength(current[:cut]) > width:
                cut -= 1
            out.append(current[:cut])
            current = current[cut:]
    if current:
        out.append(current)
    if len(out) > lines:
        out = out[:lines]
        last = out[-1]
        while last and font.getlength(last + " ...") > width:
            last = last[:-1]
        out[-1] = last.rstrip() + " ..."
    return out


def _draw_card(
    card: Card,
    width: int,
    height: int,
    tint: tuple[int, int, int],
    opening: Image.Image | None,
    closing: Image.Image | None,
) -> Image.Image:
    image = Image.new("RGB", (width, height), tint)
    pen = ImageDraw.Draw(image)
    unit = max(6, min(width, height) // 18)
    margin = max(2, width // 32)
    small, big = _font(unit * 4 // 5), _font(unit)
    y = margin // 2
    pen.text((margin, y), "RUNWARE EMULATOR - TEST CARD", font=small, fill=_DIM)
    y += unit * 3 // 2
    prompt = card.prompt or "(no prompt)"
    for line in _wrap(f"\u201c{prompt}\u201d", big, width - 2 * margin, 4 if width >= height else 7):
        pen.text((margin, y), line, font=big, fill=_TEXT)
        y += unit * 6 // 5
    y += unit // 3
    seed = "random" if card.seed is None else str(card.seed)
    details = [
        f"model {card.model or '-'}",
        f"task {card.task_uuid or '-'}",
        f"seed {seed}   {card.width}x{card.height}   {card.duration} s",
        f"audio: {card.sound or '-'}",
    ]
    if card.negative_prompt:
        details += _wrap(f"negative: {card.negative_prompt}", small, width - 2 * margin, 1)
    for line in details:
        pen.text((margin, y), line, font=small, fill=_DIM)
        y += unit
    thumbs: list[tuple[str, Image.Image | None]] = []
    if card.inputs.first_image:
        thumbs.append(("first", opening))
    elif card.inputs.reference_video:
        thumbs.append(("video end", opening))
    if card.inputs.last_image:
        thumbs.append(("last", closing))
    thumbs += [(f"ref {i + 1}", _picture(p)) for i, p in enumerate(card.inputs.reference_images)]
    _thumbnails(image, pen, thumbs, margin, y + unit // 3, unit, height)
    return image


def _thumbnails(
    image: Image.Image,
    pen: ImageDraw.ImageDraw,
    thumbs: list[tuple[str, Image.Image | None]],
    margin: int,
    top: int,
    unit: int,
    height: int,
) -> None:
    """Input pictures in a row, each labelled, above the moving square's track."""
    box_h = min(height // 5, height - top - 4 * unit)
    if not thumbs or box_h < 8:
        return
    label, x = _font(unit * 3 // 5), margin
    for name, picture in thumbs:
        if picture is None:
            continue
        thumb = picture.copy()
        thumb.thumbnail((box_h * 2, box_h), Image.Resampling.BILINEAR)
        if x + thumb.width > image.width - margin:
            break
        image.paste(thumb, (x, top))
        pen.text((x, top + thumb.height + 2), name, font=label, fill=_DIM)
        x += thumb.width + margin // 2
