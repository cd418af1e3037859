"""An agency clerk's first session, in a real browser: template, a broken file, a good one,
a paper with its blueprint and ordering rule, windows, and the preview."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import Server

pytestmark = pytest.mark.browser


def _login(page, server: Server) -> None:
    page.goto(server.url + "/login")
    page.fill("#login", "admin")
    page.fill("#password", "Demo-Admin-2026")
    page.click("button[type=submit]")


def test_agency_imports_a_bank_defines_a_paper_and_sets_windows(demo_server, browser, tmp_path):
    page = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True
    ).new_page()
    _login(page, demo_server)
    page.goto(demo_server.url + "/admin/banks")

    # Download the template and fill it in the way a clerk would.
    with page.expect_download() as download:
        page.click("text=下载题库模板")
    template = tmp_path / "模板.xlsx"
    download.value.save_as(template)
    workbook = load_workbook(template)
    sheet = workbook["题目"]
    header = [c.value for c in sheet[1]]
    for cell in sheet["A"][1:]:
        cell.value = f"CLERK-{cell.row}"  # own ids; sub-questions keep theirs unique too
    good = tmp_path / "人文补充题库.xlsx"
    workbook.save(good)
    broken = tmp_path / "有错误的题库.xlsx"
    sheet.cell(row=2, column=header.index("答案") + 1).value = "Z"
    workbook.save(broken)

    def upload(path, code):
        page.goto(demo_server.url + "/admin/banks")
        page.set_input_files("#file", str(path))
        page.fill("#code", code)
        page.fill("#name", "人文补充题库")
        page.select_option("#kind", "humanities")
        page.click("text=导入 >> nth=-1")

    upload(broken, "clerk-bank")
    text = page.text_content("main") or ""
    assert "未导入任何题目" in text and "答案" in text and "“Z”不在选项" in text
    upload(good, "clerk-bank")
    text = page.text_content("main") or ""
    assert "导入成功" in text and "CLERK-2" in text

    # A paper whose blueprint the demo's humanities bank can fill, after the humanities paper.
    page.goto(demo_server.url + "/admin/papers")
    page.fill("#code", "PRO-EXTRA")
    page.fill("#name", "补充业务水平测评试卷")
    page.select_option("#kind", "professional")
    page.select_option("#prerequisite", "HUM-2026")
    page.fill("#attempt_limit_general", "1")
    page.fill("input[name=s0_title]", "单选题")
    page.select_option("select[name=s0_bank]", "professional-clinical")
    page.select_option("select[name=s0_qtype]", "single")
    page.fill("input[name=s0_count]", "99")
    page.fill("input[name=s0_points]", "2")
    page.click("text=保存试卷")
    assert "只有 22 道，本节需要 99 道" in (page.text_content("main") or "")
    page.fill("input[name=s0_count]", "10")
    page.click("text=保存试卷")
    assert "试卷已保存" in (page.text_content("main") or "")
    assert "答案：" not in (page.text_content("main") or "")
    page.click("text=显示答案")
    assert "答案：" in (page.text_content("main") or "")

    # A regular and a makeup window.
    page.goto(demo_server.url + "/admin/windows")
    page.select_option("#paper_id", label="补充业务水平测评试卷")
    page.fill("#opens_at", "2026-06-01T09:00")
    page.fill("#closes_at", "2026-06-10T17:00")
    page.click("text=添加 >> nth=-1")
    page.select_option("#paper_id", label="补充业务水平测评试卷")
    page.select_option("#round", "makeup")
    page.fill("#opens_at", "2026-07-01T09:00")
    page.fill("#closes_at", "2026-07-05T17:00")
    page.click("text=添加 >> nth=-1")
    text = page.text_content("main") or ""
    assert "2026-06-01 09:00 至 2026-06-10 17:00" in text and "2026-07-01 09:00" in text

    # The same from a phone: nothing wider than the screen on the bank page.
    phone = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    _login(phone, demo_server)
    phone.goto(demo_server.url + "/admin/windows")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
