"""Small pure pieces: magic-byte sniffing, image sizes, byte ranges, padding, presets."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from airflow_provider_wan.emulator.downloads import ByteSource, padded_source, parse_range
from airflow_provider_wan.emulator.encoder import scaled_spec
from airflow_provider_wan.emulator.media import MediaProblem, decode_inline, is_loopback_url
from airflow_provider_wan.emulator.model import closest_preset, doc_url
from airflow_provider_wan.emulator.records import MAX_STORED_INLINE_CHARS, trim_inline, trimmed_request
from airflow_provider_wan.emulator.sniff import image_size, sniff

from .helpers import audio, jpeg, mp4_file, png, webp


@pytest.mark.parametrize(
    ("data", "fmt", "size"),
    [
        (png(120, 80), "png", (120, 80)),
        (jpeg(100, 60), "jpeg", (100, 60)),
        (webp(90, 70), "webp", (90, 70)),
        (webp(30, 50, lossless=True), "webp", (30, 50)),
    ],
)
def test_images(data: bytes, fmt: str, size: tuple[int, int]) -> None:
    info = sniff(data)
    assert info is not None and (info.kind, info.format) == ("image", fmt)
    assert image_size(data) == size


@pytest.mark.parametrize(
    ("codec", "muxer", "fmt"),
    [("libmp3lame", "mp3", "mp3"), ("pcm_s16le", "wav", "wav"), ("flac", "flac", "flac")],
)
def test_audio(codec: str, muxer: str, fmt: str) -> None:
    info = sniff(audio(codec, muxer))
    assert info is not None and (info.kind, info.format) == ("audio", fmt)


def test_video_and_unknown(tmp_path: Path) -> None:
    info = sniff(mp4_file(tmp_path).read_bytes())
    assert info is not None and (info.kind, info.format) == ("video", "mp4")
    assert sniff(b"\x1a\x45\xdf\xa3rest") is not None
    assert sniff(b"hello") is None and image_size(b"\x89PNG\r\n\x1a\n") is None


def test_inline_decoding() -> None:
    assert decode_inline("data:image/png;base64,aGk=") == b"hi"
    assert decode_inline("aG\nk=") == b"hi"
    with pytest.raises(MediaProblem):
        decode_inline("data:image/png,hi")
    with pytest.raises(MediaProblem):
        decode_inline("***")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8000/a", True),
        ("http://127.8.9.1/a", True),
        ("http://[::1]:9/a", True),
        ("http://localhost/a", True),
        ("http://10.0.0.1/a", False),
        ("https://example.com/a", False),
        ("http://127.0.0.1.nip.io/a", False),
        ("ftp://127.0.0.1/a", False),
    ],
)
def test_loopback_only(url: str, ok: bool) -> None:
    assert is_loopback_url(url) is ok


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=100-", False),
        ("bytes=9-3", False),
        ("bytes=0-1,5-9", None),
        ("items=0-3", None),
    ],
)
def test_parse_range(header: str | None, expected: object) -> None:
    assert parse_range(header, 100) == expected


def test_byte_source_ranges_and_padding(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(100)))
    source = padded_source(path, 150)
    assert source.size == 150 and source.pad_header == struct.pack(">I4s", 50, b"free")
    whole = b"".join(source.iter_range(0, 149))
    assert whole[:100] == bytes(range(100)) and whole[104:108] == b"free" and whole[108:] == bytes(42)
    for start, end in [(0, 0), (98, 103), (99, 149), (101, 106), (120, 149)]:
        assert b"".join(source.iter_range(start, end)) == whole[start : end + 1]
    assert padded_source(path, 50) == ByteSource(path, 100)
    assert padded_source(path, 103).size == 108  # a box is at least its 8-byte header
    big = padded_source(path, 2**33)
    assert big.size == 2**33 and big.pad_header[:8] == struct.pack(">I4s", 1, b"free")


def test_presets_and_docs() -> None:
    assert closest_preset("720p", None) == (1280, 720)
    assert closest_preset("1080p", 1.0) == (1440, 1440)
    assert closest_preset("1080p", 0.1) == (1080, 1920)
    assert (
        doc_url("inputs.referenceImages[3]")
        == "https://runware.ai/docs/en/video-inference/api-reference#request-inputs-referenceimages"
    )
    spec = scaled_spec(1920, 1080, 5, "mp4", True, 0.1)
    assert (spec.width, spec.height, spec.fps) == (192, 108, 3)
    assert scaled_spec(1280, 720, 5, "mp4", True, 1.0).fps == 30


def test_trim_inline_cuts_only_long_inline_payloads() -> None:
    long_url = "https://s3.example/bucket/key?X-Amz-Signature=" + "a" * 2000
    uuid_ = "2f1c8b8e-3d0b-4a55-9a53-7d3f6f2b1a10"
    short = "iVBOR" * 10
    for value in (long_url, uuid_, short, None, 5, "x" * MAX_STORED_INLINE_CHARS):
        assert trim_inline(value) == value
    plain = "A" * 5000
    assert trim_inline(plain) == "A" * 48 + "...[4952 characters omitted]"
    uri = "data:image/png;base64," + "B" * 5000
    assert trim_inline(uri) == "data:image/png;base64," + "B" * 48 + "...[4952 characters omitted]"
    task = {"taskType": "videoInference", "inputs": {"referenceImages": [uri, uuid_], "audio": long_url}}
    kept = trimmed_request(task)
    assert kept["inputs"]["referenceImages"] == [trim_inline(uri), uuid_]
    assert kept["inputs"]["audio"] == long_url and task["inputs"]["referenceImages"][0] == uri
