"""The invigilators' words for what the camera and the page report (marked for translation,
translated where shown): snapshot statuses, the engine's flags, client events, entry
outcomes, a candidate's state on the wall."""

from __future__ import annotations

from examsvc.camera.models import ClientEventKind, EntryOutcome, SnapshotStatus
from examsvc.marks import N_

SNAPSHOT_LABELS = {
    SnapshotStatus.PENDING: N_("待分析"),
    SnapshotStatus.OK: N_("正常"),
    SnapshotStatus.NO_FACE: N_("未检测到人脸（离开座位）"),
    SnapshotStatus.MULTIPLE_FACES: N_("多张人脸"),
    SnapshotStatus.MISMATCH: N_("疑似非本人"),
    SnapshotStatus.COVERED: N_("面部遮挡"),
    SnapshotStatus.POOR_CAMERA: N_("摄像头画面不佳"),
    SnapshotStatus.SKIPPED: N_("未分析（已由更新的抓拍代替）"),
    SnapshotStatus.ERROR: N_("无法分析"),
}

# The engine's codes (proctoring.quality and check_snapshot), as the timeline names them.
ENGINE_FLAG_LABELS = {
    "no_face": N_("未检测到人脸"),
    "multiple_faces": N_("多张人脸"),
    "mismatch": N_("与入场核验不是同一人"),
    "identity_uncertain": N_("身份存疑"),
    "dark": N_("光线过暗"),
    "overexposed": N_("画面过亮"),
    "blurred": N_("画面模糊"),
    "face_too_small": N_("距离摄像头过远"),
    "off_centre": N_("面部不在画面中央"),
    "covered_eyes": N_("眼部被遮挡"),
    "covered_mouth": N_("口鼻被遮挡"),
}

EVENT_LABELS = {
    ClientEventKind.HIDDEN: N_("页面切到后台"),
    ClientEventKind.VISIBLE: N_("返回页面"),
    ClientEventKind.BLUR: N_("窗口失去焦点"),
    ClientEventKind.FOCUS: N_("窗口恢复焦点"),
    ClientEventKind.CAMERA_STOPPED: N_("摄像头中断"),
    ClientEventKind.CAMERA_STARTED: N_("摄像头恢复"),
    ClientEventKind.DISCONNECTED: N_("断开连接"),
    ClientEventKind.RECONNECTED: N_("重新连接"),
    ClientEventKind.FULLSCREEN_EXIT: N_("退出全屏"),
    ClientEventKind.FULLSCREEN_ENTER: N_("进入全屏"),
}

OUTCOME_LABELS = {
    EntryOutcome.PASSED: N_("核验通过"),
    EntryOutcome.REVIEW: N_("待人工复核"),
    EntryOutcome.MISMATCH: N_("与报名照片不符"),
    EntryOutcome.RETRY: N_("画面不足，需重新核验"),
    EntryOutcome.MULTIPLE_FACES: N_("多张人脸"),
    EntryOutcome.NO_PHOTO: N_("无可用报名照片"),
    EntryOutcome.OVERRIDDEN: N_("管理员放行"),
}

VERDICT_LABELS = {"same": N_("复核：是本人"), "different": N_("复核：不是本人")}

# A card's flags, most serious first (the wall's order).
FLAG_LABELS = {
    "mismatch": N_("疑似非本人"),
    "multiple_faces": N_("多张人脸"),
    "no_face": N_("离开座位"),
    "entry_review": N_("入场核验待复核"),
    "covered": N_("面部遮挡"),
    "poor_camera": N_("摄像头画面不佳"),
    "entry_override": N_("管理员放行入场"),
}

STATE_LABELS = {
    "not_started": N_("未开始"),
    "in_progress": N_("答题中"),
    "submitted": N_("已交卷"),
    "voided": N_("违纪作废"),
}

CONNECTION_LABELS = {"connected": N_("在线"), "disconnected": N_("已断开")}
CAMERA_LABELS = {"on": N_("摄像头正常"), "off": N_("摄像头中断"), "none": N_("暂无画面")}

MEASURE_LABELS = {
    "face_count": N_("人脸数"),
    "distance": N_("与入场照片的差异"),
    "brightness": N_("亮度"),
    "sharpness": N_("清晰度"),
}
