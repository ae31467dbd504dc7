"""Media formats recognised by their first bytes ("magic"), never by file name or declared MIME type.

Wan2.7 on Runware takes images (PNG, JPEG, WEBP), videos (MP4, MOV, WEBM) and audio (MP3, WAV, FLAC).
Sniffing needs only :data:`SNIFF_BYTES` bytes, so a ranged read or the head of a base64 string suffices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaKind = Literal["image", "video", "audio"]

#: Bytes needed to recognise every supported format (EBML doc type may sit a few dozen bytes in).
SNIFF_BYTES = 64


@dataclass(frozen=True)
class MediaFormat:
    name: str  # short lower-case name: png, jpeg, webp, mp4, mov, webm, mp3, wav, flac
    kind: MediaKind
    mime: str
    ext: str
    aliases: tuple[str, ...] = ()  # other MIME types a data URI may declare for it


FORMATS: dict[str, MediaFormat] = {
    f.name: f
    for f in (
        MediaFormat("png", "image", "image/png", "png"),
        MediaFormat("jpeg", "image", "image/jpeg", "jpg", ("image/jpg",)),
        MediaFormat("webp", "image", "image/webp", "webp"),
        MediaFormat("mp4", "video", "video/mp4", "mp4"),
        MediaFormat("mov", "video", "video/quicktime", "mov"),
        MediaFormat("webm", "video", "video/webm", "webm"),
        MediaFormat("mp3", "audio", "audio/mpeg", "mp3", ("audio/mp3",)),
        MediaFormat("wav", "audio", "audio/wav", "wav", ("audio/x-wav", "audio/wave")),
        MediaFormat("flac", "audio", "audio/flac", "flac", ("audio/x-flac",)),
    )
}

ALLOWED: dict[MediaKind, tuple[str, ...]] = {
    kind: tuple(f.name for f in FORMATS.values() if f.kind == kind) for kind in ("image", "video", "audio")
}

# QuickTime files may start with any of these top-level atoms instead of ``ftyp``.
_QT_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff(head: bytes) -> MediaFormat | None:
    """The format of a file from its first bytes, or None when it is none of the supported ones."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FORMATS["png"]
    if head.startswith(b"\xff\xd8\xff"):
        return FORMATS["jpeg"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FORMATS["webp"]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return FORMATS["wav"]
    if head[4:8] == b"ftyp":
        # Brand "qt  " marks QuickTime; every other ISO-BMFF brand (isom, mp42, avc1, M4V...) plays as MP4.
        return FORMATS["mov"] if head[8:12] == b"qt  " else FORMATS["mp4"]
    if head[4:8] in _QT_ATOMS:
        return FORMATS["mov"]
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return FORMATS["webm"]
    if head.startswith(b"fLaC"):
        return FORMATS["flac"]
    if head.startswith(b"ID3"):
        return FORMATS["mp3"]
    # MPEG audio frame sync: 11 set bits, then a layer field that is not 00 (00 is AAC's ADTS).
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] >> 1) & 0x3:
        return FORMATS["mp3"]
    return None


def describe_head(head: bytes) -> str:
    """What unknown leading bytes look like, for an error message, without quoting them: they may be a
    secret (a local file, an S3 object, a download redirected to a metadata service)."""
    if not head:
        return "empty content"
    text = head[:16]
    return "text" if all(32 <= b < 127 or b in (9, 10, 13) for b in text) else "unrecognised binary data"


def output_format_for(name: str | None, url: str | None = None) -> MediaFormat:
    """Video format of an output: from the URL's extension, else ``outputFormat`` (default MP4)."""
    if url:
        path = url.split("?", 1)[0].split("#", 1)[0].lower()
        for fmt in (FORMATS["mp4"], FORMATS["webm"], FORMATS["mov"]):
            if path.endswith("." + fmt.ext):
                return fmt
    key = (name or "MP4").strip().lower()
    return FORMATS.get(key, FORMATS["mp4"]) if key in ALLOWED["video"] else FORMATS["mp4"]
