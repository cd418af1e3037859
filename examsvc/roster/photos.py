"""Registration photos, stored by content (DATA_DIR/photos/<sha256>.<ext>)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from proctoring.frames import sniff

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store(data_dir: str | Path, data: bytes) -> str:
    """Write the bytes once (atomically) and return their sha256."""
    digest = sha256(data)
    kind = sniff(data) or "BIN"
    folder = Path(data_dir) / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.{EXTENSIONS.get(kind, 'bin')}"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return digest


def path_of(data_dir: str | Path, digest: str) -> Path | None:
    for ext in (*EXTENSIONS.values(), "bin"):
        path = Path(data_dir) / "photos" / f"{digest}.{ext}"
        if path.exists():
            return path
    return None


def load(data_dir: str | Path, digest: str) -> bytes | None:
    path = path_of(data_dir, digest)
    return path.read_bytes() if path else None
