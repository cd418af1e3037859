"""The printable result notice (考核结果通知书) for a physician who passed, as a PDF."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF

from examsvc.clock import BEIJING


@dataclass(frozen=True)
class NoticePaper:
    name: str
    result: str  # 合格 (score) or 免考通过


@dataclass(frozen=True)
class Notice:
    name: str
    masked_id: str
    institution: str
    cycle: str
    procedure: str
    papers: list[NoticePaper]
    verdict: str
    issued_at: datetime
    photo: bytes | None


def render(notice: Notice, font_path: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title("考核结果通知书")
    pdf.add_page()
    pdf.add_font("cjk", fname=font_path, collection_font_number=0)  # the first face of a .ttc
    pdf.set_font("cjk", size=20)
    pdf.cell(0, 16, "医师定期考核结果通知书", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    if notice.photo:
        pdf.image(io.BytesIO(notice.photo), x=150, y=36, w=35)
    else:
        pdf.rect(150, 36, 35, 45)
        pdf.set_font("cjk", size=9)
        pdf.text(156, 60, "（无照片）")
    pdf.set_font("cjk", size=12)
    for label, value in (
        ("姓名", notice.name),
        ("证件号码", notice.masked_id),
        ("工作单位", notice.institution),
        ("考核周期", notice.cycle),
        ("考核程序", notice.procedure),
    ):
        pdf.cell(28, 9, f"{label}：")
        pdf.cell(100, 9, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(14)
    pdf.set_font("cjk", size=13)
    pdf.cell(0, 10, "测评结果", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=12)
    for paper in notice.papers:
        pdf.cell(120, 9, paper.name, border="B")
        pdf.cell(0, 9, paper.result, border="B", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("cjk", size=14)
    pdf.cell(0, 10, f"考核结果：{notice.verdict}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(16)
    pdf.set_font("cjk", size=10)
    pdf.multi_cell(
        0,
        6,
        "本通知书由医师定期考核在线测评系统生成，考核结果以登记系统记录为准；"
        "证书须经卫生健康主管部门盖章后有效。",
    )
    pdf.cell(0, 8, f"生成日期：{notice.issued_at.astimezone(BEIJING):%Y年%m月%d日}", align="R")
    return bytes(pdf.output())
