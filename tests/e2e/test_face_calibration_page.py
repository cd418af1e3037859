"""The face calibration page in a real browser: first the conservative defaults, then the
thresholds measured on the roster's registration photos."""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.conftest import launch, log_in, look

pytestmark = pytest.mark.browser

# Six different people as the six demo physicians' registration photos.
PHOTOS = [
    "face_recognition/obama.jpg",
    "face_recognition/biden.jpg",
    "face_recognition/kit_harington_john1.jpeg",
    "face_recognition/rose_leslie_img1.jpg",
    "face_recognition/alex_lacamoire_img1.jpg",
    "deepface/img38.jpg",
]
DEMO_IDS = [1, 2, 4, 5, 6, 7]


def test_admin_sees_no_calibration_then_the_roster_thresholds(browser, tmp_path, faces_dir):
    photos = tmp_path / "photos"
    photos.mkdir()
    for n, name in zip(DEMO_IDS, PHOTOS, strict=True):
        shutil.copy(faces_dir / name, photos / f"DEMO-{n:04d}.jpg")
    with launch(tmp_path / "server") as server:
        server.command("demo", "load", "--photos", str(photos))
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        log_in(page, server, "admin", "Demo-Admin-2026")
        page.click("text=人脸阈值校准")
        before = look(page, "face-calibration-none")
        assert "尚未进行人脸阈值校准，正在使用保守的默认阈值" in before
        assert "人工复核：0.4000 ~ 0.5000" in before and "本周期照片合格的考生：6 名" in before
        page.click("text=开始校准")  # 0.1 % needs 2,995 pairs; six photos make 15
        refused = look(page, "face-calibration-refused")
        assert "照片合格的考生太少：15 对照片不足以证明误识率不超过 0.10%" in refused
        # 15 pairs can only bound a very high rate: a demonstration, not a policy.
        out = server.command("faces", "calibrate", "--target-far", "0.2", "--loose-far", "0.5")
        assert "calibration v1: 6 photos, 15 impostor pairs (all)" in out
        page.reload()
        after = look(page, "face-calibration-v1")
        assert "尚未进行人脸阈值校准" not in after
        assert "正在使用第 1 版校准阈值" in after and "15 对（全部组合）" in after
        assert "目标 20.00%" in after
