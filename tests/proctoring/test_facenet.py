"""face_recognition's ResNet on numpy gives dlib's own descriptors, and reads only that model."""

from __future__ import annotations

import numpy as np
import pytest

from proctoring import engine, facenet, faces
from proctoring.config import FaceConfig

# Faces of both sexes, several ages and ethnicities, photo and webcam-like sizes.
PHOTOS = [
    "face_recognition/obama.jpg",
    "face_recognition/biden.jpg",
    "face_recognition/rose_leslie_img1.jpg",
    "face_recognition/alex_lacamoire_img1.jpg",
    "deepface/img1.jpg",
    "deepface/img38.jpg",
    "deepface/img11.jpg",
    "face-api/sheldon/sheldon1.png",
]


def model_bytes() -> bytes:
    with open(faces.models().face_recognition_model_location(), "rb") as file:
        return file.read()


@pytest.fixture(scope="module")
def shapes(photo):
    """(image, landmarks) of one face in each photo."""
    out = []
    for name in PHOTOS:
        image = photo(name)
        analysis = engine.analyse(image, FaceConfig(min_face_fraction=0.0), encode=False)
        assert analysis.box is not None, name
        out.append((image, faces.shape(image, analysis.box)))
    return out


def test_descriptors_equal_dlibs_own(shapes):
    for image, found in shapes:
        ours = faces.encode(image, found, encoder="numpy")
        theirs = faces.encode(image, found, encoder="dlib")
        assert ours.shape == (128,) and ours.dtype == np.float64
        # Thresholds sit between 0.45 and 0.55: a gap a thousand times smaller changes nothing.
        assert faces.distance(ours, theirs) < 1e-4


def test_a_batch_of_chips_equals_one_at_a_time(shapes):
    chips = np.stack(
        [
            faces.fr().api.dlib.get_face_chip(image, found, size=150, padding=0.25)
            for image, found in shapes[:4]
        ]
    )
    together = faces.net().embed(chips)
    for chip, row in zip(chips, together, strict=True):
        assert np.allclose(faces.net().embed(chip[None])[0], row, atol=1e-5)


def test_engine_decisions_are_the_same_with_either_encoder(photo_bytes):
    reference = engine.check_registration_photo(photo_bytes("face_recognition/obama.jpg"))
    assert reference.encoding is not None
    for name, expected in (
        ("face_recognition/obama2.jpg", []),
        ("face_recognition/biden.jpg", ["mismatch"]),
    ):
        for encoder in ("numpy", "dlib"):
            decision = engine.check_snapshot(
                photo_bytes(name), [reference.encoding], FaceConfig(encoder=encoder)
            )
            assert [f for f in decision.flags if f == "mismatch"] == expected, (name, encoder)


def test_the_model_file_is_read_strictly():
    data = model_bytes()
    net = facenet.parse(data)
    assert net.fc.shape == (256, 128) and len(net.blocks) == 14
    assert np.allclose(net.mean, [122.782, 117.001, 104.298], atol=1e-3)
    with pytest.raises(facenet.ModelError, match="ends early"):
        facenet.parse(data[: len(data) // 2])
    with pytest.raises(facenet.ModelError, match="metric-learning"):
        facenet.parse(b"\x01\x02\x01\x05hello" + data[20:])


def test_another_dlib_model_is_refused():
    with open(faces.models().cnn_face_detector_model_location(), "rb") as file:
        data = file.read()
    with pytest.raises(facenet.ModelError):
        facenet.parse(data)


def test_chips_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match="150"):
        faces.net().embed(np.zeros((1, 120, 120, 3), dtype=np.uint8))


def test_encoder_setting_is_read_and_checked():
    assert FaceConfig.from_mapping({"FACE_ENCODER": "dlib"}).encoder == "dlib"
    assert FaceConfig().encoder == "numpy"
    with pytest.raises(ValueError, match="FACE_ENCODER"):
        FaceConfig(encoder="gpu")
