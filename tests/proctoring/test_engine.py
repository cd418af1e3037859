"""Faces told apart, people matched and told apart, camera problems named — on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from proctoring import engine, faces
from proctoring.config import FaceConfig
from tests.proctoring.conftest import jpeg, landscape

SAME = [
    ("face_recognition/obama.jpg", "face_recognition/obama2.jpg"),
    ("face_recognition/biden.jpg", "face_recognition/biden_biden2.jpg"),
    ("face_recognition/rose_leslie_img1.jpg", "face_recognition/rose_leslie_img2.jpg"),
    ("deepface/img38.jpg", "deepface/img39.jpg"),
]
DIFFERENT = [
    ("face_recognition/obama.jpg", "face_recognition/biden.jpg"),
    ("face_recognition/rose_leslie_img1.jpg", "deepface/img38.jpg"),
    ("face_recognition/kit_harington_john1.jpeg", "face_recognition/alex_lacamoire_img1.jpg"),
]


@pytest.fixture(scope="module")
def encoding(photo_bytes):
    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            check = engine.check_registration_photo(photo_bytes(name))
            assert check.ok, (name, check.reason_code)
            assert check.encoding is not None
            cache[name] = check.encoding
        return cache[name]

    return get


def test_registration_photo_with_one_face_is_accepted(photo_bytes):
    check = engine.check_registration_photo(photo_bytes("face_recognition/obama.jpg"))
    assert check.ok and check.reason_code is None
    assert len(check.encoding_bytes() or b"") == 1024
    assert check.box is not None and check.box.width > 60


def test_registration_photo_with_two_faces_is_refused(photo_bytes):
    check = engine.check_registration_photo(photo_bytes("face_recognition/two_people.jpg"))
    assert not check.ok and check.reason_code == "multiple_faces"
    assert check.encoding is None and "多张人脸" in (check.reason_zh or "")


def test_registration_photo_with_no_face_is_refused():
    check = engine.check_registration_photo(jpeg(landscape()))
    assert not check.ok and check.reason_code == "no_face"


def test_unreadable_registration_photo_is_refused():
    check = engine.check_registration_photo(b"\xff\xd8\xff\xe0 broken")
    assert not check.ok and check.reason_code == "truncated"


@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_person_is_never_refused_at_the_loose_entry_threshold(encoding, a, b):
    # photo against photo, years apart: 0.37–0.45, so some of these land in the review band
    assert faces.distance(encoding(a), encoding(b)) <= FaceConfig().entry_reject


def test_the_closest_same_person_pair_is_accepted_at_the_strict_threshold(encoding):
    a, b = SAME[0]
    assert faces.distance(encoding(a), encoding(b)) <= FaceConfig().entry_accept


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_people_do_not_match(encoding, a, b):
    assert faces.distance(encoding(a), encoding(b)) > FaceConfig().entry_reject


def test_count_faces_tells_none_one_and_several(photo_bytes):
    assert engine.count_faces(jpeg(landscape())).count == 0
    assert engine.count_faces(photo_bytes("face_recognition/obama.jpg")).count == 1
    assert engine.count_faces(photo_bytes("face_recognition/two_people.jpg")).count == 2


def _variants(image: np.ndarray) -> list[bytes]:
    """Three live-like frames: slightly shifted, brighter, noisier."""
    rng = np.random.default_rng(0)
    shifted = np.roll(image, 6, axis=1)
    brighter = np.clip(image.astype(int) + 12, 0, 255).astype(np.uint8)
    noisy = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    return [jpeg(shifted), jpeg(brighter), jpeg(noisy)]


def test_entry_passes_for_the_registered_person_and_enrols_frames(photo, encoding):
    decision = engine.verify_entry(
        _variants(photo("face_recognition/obama2.jpg")),
        faces.to_bytes(encoding("face_recognition/obama.jpg")),
    )
    assert decision.passed and decision.code == "passed"
    assert len(decision.enrolled) == 3
    assert decision.distance is not None and decision.distance <= FaceConfig().entry_accept
    assert decision.as_dict()["median_distance"] is not None
    assert decision.as_dict()["thresholds"]["accept"] == FaceConfig().entry_accept


def test_entry_between_the_thresholds_goes_to_review_and_enrols(photo, encoding):
    """The same frames, with the strict threshold moved just below their distance: the
    candidate may continue (frames enrolled), an invigilator decides."""
    frames = _variants(photo("face_recognition/obama2.jpg"))
    reference = encoding("face_recognition/obama.jpg")
    measured = engine.verify_entry(frames, reference).distance
    assert measured is not None
    config = FaceConfig(entry_accept=measured - 0.02, entry_reject=measured + 0.02)
    decision = engine.verify_entry(frames, reference, config)
    assert decision.code == "review" and not decision.passed
    assert len(decision.enrolled) == 3 and "监考人员" in decision.message_zh
    tighter = FaceConfig(entry_accept=measured - 0.04, entry_reject=measured - 0.02)
    assert engine.verify_entry(frames, reference, tighter).code == "mismatch"


def test_aggregates_of_known_distances():
    reference = np.zeros(128)
    encodings = [np.eye(128)[0] * d for d in (0.2, 0.3, 0.9)]
    assert engine.aggregate(encodings, reference, "median") == pytest.approx(0.3)
    assert engine.aggregate(encodings, reference, "mean_best") == pytest.approx(0.25)
    assert engine.aggregate(encodings, reference, "vote") == pytest.approx(0.3)
    assert engine.aggregate(encodings, reference, "centroid") == pytest.approx(
        (0.2 + 0.3 + 0.9) / 3
    )
    weighted = engine.aggregate(encodings, reference, "quality", [1.0, 1.0, 0.0001])
    assert weighted == pytest.approx(0.25, abs=0.001)
    assert [engine.band(d, 0.4, 0.5) for d in (0.4, 0.45, 0.51)] == ["accept", "review", "reject"]


def test_entry_refuses_someone_else(photo, encoding):
    decision = engine.verify_entry(
        _variants(photo("face_recognition/biden.jpg")), encoding("face_recognition/obama.jpg")
    )
    assert not decision.passed and decision.code == "mismatch" and not decision.enrolled


def test_entry_asks_to_retry_without_enough_usable_frames(photo, encoding):
    dark = (photo("face_recognition/obama2.jpg") * 0.15).astype(np.uint8)
    decision = engine.verify_entry([jpeg(dark)] * 3, encoding("face_recognition/obama.jpg"))
    assert decision.code == "retry" and "光线过暗" in decision.message_zh


def test_entry_with_two_people_in_view_fails(photo_bytes, encoding):
    frames = [photo_bytes("face_recognition/two_people.jpg")] * 3
    decision = engine.verify_entry(frames, encoding("face_recognition/obama.jpg"))
    assert decision.code == "multiple_faces"


def test_continuity_flags_a_substitute(photo, photo_bytes):
    enrolled = engine.verify_entry(
        _variants(photo("face_recognition/obama.jpg")),
        engine.check_registration_photo(photo_bytes("face_recognition/obama.jpg")).encoding_bytes()
        or b"",
    ).enrolled
    same = engine.check_snapshot(_variants(photo("face_recognition/obama.jpg"))[0], enrolled)
    other = engine.check_snapshot(photo_bytes("face_recognition/biden_biden2.jpg"), enrolled)
    assert same.ok and same.distance is not None
    assert (
        "mismatch" in other.flags
        and other.distance
        and other.distance > FaceConfig().continuity_reject
    )
    # Another photo of the same man, with the thresholds around its distance.
    other_photo = photo_bytes("face_recognition/obama2.jpg")
    measured = engine.check_snapshot(other_photo, enrolled).distance
    assert measured is not None
    between = FaceConfig(continuity_accept=measured - 0.01, continuity_reject=measured + 0.01)
    uncertain = engine.check_snapshot(other_photo, enrolled, between)
    assert uncertain.flags == ["identity_uncertain"] and not uncertain.ok
    above = FaceConfig(continuity_accept=measured - 0.02, continuity_reject=measured - 0.01)
    assert engine.check_snapshot(other_photo, enrolled, above).flags == ["mismatch"]


def test_snapshot_flags_no_face_and_several(photo_bytes):
    assert engine.check_snapshot(jpeg(landscape()), []).flags[0] == "no_face"
    assert (
        engine.check_snapshot(photo_bytes("face_recognition/two_people.jpg"), []).flags[0]
        == "multiple_faces"
    )


def test_camera_problems_get_specific_instructions(photo):
    image = photo("face_recognition/obama.jpg")
    dark = engine.analyse((image * 0.18).astype(np.uint8))
    bright = engine.analyse(np.clip(image.astype(int) * 2.6 + 60, 0, 255).astype(np.uint8))
    blurred = engine.analyse(cv2.GaussianBlur(image, (0, 0), 4))
    assert "dark" in dark.codes() and dark.issues[0].message_zh == "光线过暗，请面向光源"
    assert "overexposed" in bright.codes()
    assert "blurred" in blurred.codes()
    assert not engine.analyse(image).issues  # the original is fine
    assert dark.encoding is None  # an unusable frame is not encoded


def test_sunglasses_are_flagged(photo):
    image = photo("face_recognition/obama.jpg").copy()
    analysis = engine.analyse(image)
    assert analysis.box is not None
    marks = faces.landmarks(image, analysis.box)
    for eye in ("left_eye", "right_eye"):
        centre = np.array(marks[eye]).mean(axis=0).astype(int)
        cv2.ellipse(image, (int(centre[0]), int(centre[1])), (22, 14), 0, 0, 360, (15, 15, 20), -1)
    assert "covered_eyes" in engine.analyse(image).codes()


def test_a_masked_face_is_not_taken_for_a_clear_one(photo):
    image = photo("face_recognition/obama.jpg").copy()
    analysis = engine.analyse(image)
    assert analysis.box is not None
    marks = faces.landmarks(image, analysis.box)
    top = marks["nose_tip"][0][1] - 5
    chin = marks["chin"]
    polygon = np.array([*chin, (chin[-1][0], top), (chin[0][0], top)], dtype=np.int32)
    cv2.fillPoly(image, [polygon], (200, 200, 205))
    covered = engine.analyse(image)
    assert {"no_face", "covered_mouth"} & set(covered.codes())
    assert covered.encoding is None or "covered_mouth" in covered.codes()


@pytest.mark.parametrize(
    "name",
    [
        "face_recognition/obama.jpg",
        "face_recognition/rose_leslie_img1.jpg",
        "deepface/img38.jpg",
        "face_recognition/biden_biden2.jpg",
    ],
)
def test_clear_faces_are_not_flagged_as_covered(photo, name):
    codes = engine.analyse(photo(name), upsample_fallback=True).codes()
    assert "covered_eyes" not in codes and "covered_mouth" not in codes


def test_config_reads_face_settings():
    config = FaceConfig.from_mapping(
        {"FACE_ENTRY_ACCEPT": "0.38", "FACE_ENTRY_REJECT": "0.48", "FACE_MIN_FACE_PX": "70"}
    )
    assert (config.entry_accept, config.entry_reject, config.min_face_px) == (0.38, 0.48, 70)


def test_config_reads_the_old_single_threshold_as_the_loose_one():
    config = FaceConfig.from_mapping({"FACE_ENTRY_THRESHOLD": "0.55", "OTHER": 1})
    assert (config.entry_accept, config.entry_reject) == (0.40, 0.55)
    tight = FaceConfig.from_mapping({"FACE_CONTINUITY_THRESHOLD": "0.30"})
    assert (tight.continuity_accept, tight.continuity_reject) == (0.30, 0.30)


def test_config_refuses_a_strict_threshold_above_the_loose_one():
    with pytest.raises(ValueError, match="ENTRY_ACCEPT"):
        FaceConfig(entry_accept=0.5, entry_reject=0.4)
    with pytest.raises(ValueError, match="AGGREGATE"):
        FaceConfig(entry_aggregate="best")
