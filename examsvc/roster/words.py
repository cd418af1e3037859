"""A registration photo's problem as it is stored (``Physician.photo_problem_text``: the face
engine's Chinese reason, or the pull's own), marked for translation so that a page shows it
in its language: ``_(physician.photo_problem_text)``. tests/roster/test_photo_words.py keeps
this list in step with the engine (proctoring knows nothing of the catalog)."""

from __future__ import annotations

from examsvc.marks import N_

PHOTO_PROBLEMS = (
    # proctoring.engine.check_registration_photo
    N_("照片中未检测到人脸"),
    N_("照片中有多张人脸"),
    N_("照片中人脸过小"),
    N_("照片过暗"),
    N_("照片过度曝光"),
    # proctoring.frames.decode (the default 2 MB limit)
    N_("图片为空"),
    N_("图片超过 2 MB"),
    N_("文件不是 JPG/PNG 图片"),
    N_("图片已损坏或不完整"),
    N_("图片尺寸过大"),
    N_("图片格式与内容不符"),
    # the pull and the demo's enrolment
    N_("照片校验值与登记系统不符"),
    N_("照片下载失败"),
    N_("照片不可用"),
)
