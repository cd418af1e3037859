"""Every reason the face engine gives for refusing a registration photo is in the catalog, so
the pages that show a stored reason (photo_problem_text) show it in their language."""

from __future__ import annotations

import pytest

from examsvc.roster.words import PHOTO_PROBLEMS
from examsvc.web.i18n import gettext
from proctoring import engine
from proctoring.frames import FrameError, decode


def refusals() -> list[str]:
    said = [zh for zh, _ in engine._PHOTO_REASONS.values()]
    too_large = b"\xff\xd8" + bytes(engine.DEFAULT.max_bytes)
    for data in (b"", too_large, b"not an image", b"\xff\xd8\xff\xe0 cut off"):
        with pytest.raises(FrameError) as caught:
            decode(data)
        said.append(caught.value.message_zh)
    return said


def test_the_engines_photo_reasons_are_marked_for_translation():
    missing = [text for text in refusals() if text not in PHOTO_PROBLEMS]
    assert not missing, f"add them to examsvc/roster/words.py: {missing}"


def test_a_stored_reason_reads_in_english(app, client):
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        assert gettext("照片中有多张人脸") == "More than one face in the photo"
        assert gettext("图片超过 2 MB") == "The image is larger than 2 MB"
