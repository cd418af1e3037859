"""Safe decoding of untrusted image bytes into RGB arrays of a working size."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from proctoring.config import DEFAULT, FaceConfig

_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"RIFF", "WEBP"),  # followed by size and b"WEBP", checked below
)


@dataclass
class FrameError(Exception):
    """An image that is refused, with a stable code and messages for people."""

    code: str
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message_en}"


def sniff(data: bytes) -> str | None:
    """The format named by the bytes themselves (never by a file name or MIME type)."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            if name == "WEBP" and data[8:12] != b"WEBP":
                return None
            return name
    return None


def decode(
    data: bytes, config: FaceConfig = DEFAULT, *, long_side: int | None = None
) -> np.ndarray:
    """Decode to an RGB uint8 array no longer than ``long_side`` (EXIF orientation applied)."""
    if not data:
        raise FrameError("empty", "图片为空", "The image is empty")
    if len(data) > config.max_bytes:
        raise FrameError(
            "too_large",
            f"图片超过 {config.max_bytes // (1024 * 1024)} MB",
            f"The image is larger than {config.max_bytes // (1024 * 1024)} MB",
        )
    kind = sniff(data)
    if kind is None:
        raise FrameError(
            "not_an_image", "文件不是 JPG/PNG 图片", "The file is not a JPEG/PNG image"
        )
    # libjpeg pads a cut-off JPEG with grey rather than failing: check the end markers.
    if (kind == "JPEG" and b"\xff\xd9" not in data[-1024:]) or (
        kind == "PNG" and b"IEND" not in data[-64:]
    ):
        raise FrameError("truncated", "图片已损坏或不完整", "The image is damaged or truncated")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))  # reads the header only
            width, height = image.size
            if width * height > config.max_pixels or width > 20000 or height > 20000:
                raise FrameError(
                    "too_many_pixels",
                    "图片尺寸过大",
                    f"The image is too large ({width}x{height} pixels)",
                )
            if image.format != kind:
                raise FrameError(
                    "not_an_image", "图片格式与内容不符", "The image format is inconsistent"
                )
            target = long_side or config.working_long_side
            if kind == "JPEG" and max(width, height) > 2 * target:
                # Decode a large JPEG at 1/2..1/8 scale, never below the working size:
                # the same decisions at ~18 % less CPU (docs/benchmarks.md, roster).
                scale = target / max(width, height)
                image.draft(image.mode, (round(width * scale), round(height * scale)))
            image.load()
    except FrameError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FrameError("too_many_pixels", "图片尺寸过大", "The image is too large") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise FrameError(
            "truncated", "图片已损坏或不完整", "The image is damaged or truncated"
        ) from None
    # In place, and no convert of an RGB image: both would copy the whole decoded image.
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if max(image.size) > target:
        image.thumbnail((target, target), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)
