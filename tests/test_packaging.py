"""A built package serves pages: scripts/check-wheel.sh (also a step of .ci/run) builds the
wheel, installs it into a fresh virtualenv outside the checkout, migrates a new SQLite
database and fetches the login page. Here it also checks that the wheel carries every
template and migration."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_the_wheel_installs_outside_the_checkout_migrates_and_serves_pages(tmp_path: Path):
    done = subprocess.run(
        [str(REPO / "scripts" / "check-wheel.sh")],
        env={**os.environ, "EXAMSVC_WHEEL_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "wheel ok: examsvc-0.1.0-py3-none-any.whl"
    names = set(zipfile.ZipFile(tmp_path / "examsvc-0.1.0-py3-none-any.whl").namelist())
    for folder in ("templates", "migrations"):
        files = [
            p.relative_to(REPO / folder).as_posix()
            for p in (REPO / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]
        assert files
        assert {f"examsvc/_{folder}/{name}" for name in files} <= names, folder
