"""Untrusted image bytes are decoded safely or refused with a clear reason."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from proctoring.config import FaceConfig
from proctoring.frames import FrameError, decode, sniff
from tests.proctoring.conftest import jpeg


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares a huge size (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _refused(data: bytes, config: FaceConfig | None = None) -> str:
    with pytest.raises(FrameError) as err:
        decode(data, config or FaceConfig())
    assert err.value.message_zh and err.value.message_en
    return err.value.code


def test_truncated_jpeg_is_refused(photo_bytes):
    data = photo_bytes("face_recognition/obama.jpg")
    assert _refused(data[: len(data) // 3]) == "truncated"


def test_decompression_bomb_is_refused_before_decoding():
    assert _refused(_png_header_only(60000, 60000)) == "too_many_pixels"


def test_a_non_image_is_refused():
    assert _refused(b"%PDF-1.7 not an image at all") == "not_an_image"
    assert _refused(b"") == "empty"


def test_huge_png_is_refused_by_pixels():
    big = np.zeros((5000, 9000, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, "PNG")
    assert (
        _refused(buffer.getvalue(), FaceConfig(max_bytes=10**9, max_pixels=20_000_000))
        == "too_many_pixels"
    )


def test_more_than_two_megabytes_is_refused(faces_dir_session):
    data = (faces_dir_session / "deepface/img1.jpg").read_bytes()
    assert len(data) > 2 * 1024 * 1024
    assert _refused(data) == "too_large"


def test_format_comes_from_the_bytes_not_the_name(photo_bytes):
    assert sniff(photo_bytes("face_recognition/obama.jpg")) == "JPEG"
    assert sniff(b"GIF89a....") is None


def test_alpha_is_dropped_and_size_limited(faces_dir_session):
    image = decode((faces_dir_session / "face_recognition/32bit.png").read_bytes())
    assert image.ndim == 3 and image.shape[2] == 3
    assert max(image.shape[:2]) <= 640


def test_exif_orientation_is_applied():
    wide = np.zeros((100, 200, 3), dtype=np.uint8)
    wide[:, :100] = 255  # left half white
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    Image.fromarray(wide).save(buffer, "JPEG", exif=exif)
    image = decode(buffer.getvalue())
    assert image.shape[:2] == (200, 100)  # upright: taller than wide
    assert image[:90].mean() > 200  # the white half is now on top


def test_greyscale_becomes_rgb(faces_dir_session):
    image = decode((faces_dir_session / "face-api/amy/amy1.png").read_bytes())
    assert image.shape == (150, 150, 3)


def test_jpeg_round_trip_helper():
    data = jpeg(np.full((10, 10, 3), 128, dtype=np.uint8))
    assert decode(data).shape == (10, 10, 3)
