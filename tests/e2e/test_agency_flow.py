"""An agency clerk's first session, in a real browser: template, a broken file, a good one,
a paper with its blueprint and ordering rule, windows, and the preview."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import (
    Server,
    enabled_controls,
    log_in,
    look,
    physician_session,
    start_first_paper,
)
from tests.e2e.test_exam_flow import _keys

pytestmark = pytest.mark.browser


def _login(page, server: Server) -> None:
    log_in(page, server, "admin", "Demo-Admin-2026")


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
    text = look(page, "agency-bank-import-refused")
    assert "未导入任何题目" in text and "答案" in text and "“Z”不在选项" in text
    upload(good, "clerk-bank")
    text = look(page, "agency-bank-imported")
    assert "导入成功" in text and "CLERK-2" in text

    # A paper whose blueprint the demo's humanities bank can fill, after the humanities paper.
    page.goto(demo_server.url + "/admin/papers")
    page.fill("#code", "PRO-EXTRA")
    page.fill("#name", "补充业务水平测评试卷")
    page.select_option("#kind", "professional")
    page.select_option("#prerequisite", "HUM-2026")
    page.fill("#attempt_limit_general", "1")
    page.fill("input[name=sections-0-title]", "单选题")
    page.select_option("select[name=sections-0-bank]", "professional-clinical")
    page.select_option("select[name=sections-0-qtype]", "single")
    page.fill("input[name=sections-0-count]", "99")
    page.fill("input[name=sections-0-points_per_item]", "2")
    page.click("text=保存试卷")
    assert "只有 22 道，本节需要 99 道" in look(page, "agency-paper-shortfall")
    page.fill("input[name=sections-0-count]", "10")
    page.click("text=保存试卷")
    text = look(page, "agency-paper-saved")
    assert "试卷已保存" in text and "正确答案" not in text
    assert "合格分数线 60 分" in text
    page.click("text=显示答案")
    text = look(page, "agency-paper-preview-keys")
    assert "正确答案" in text and "True" not in text and "{'" not in text

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
    text = look(page, "agency-windows")
    assert "2026-06-01 09:00 至 2026-06-10 17:00" in text and "2026-07-01 09:00" in text

    # The same from a phone: nothing wider than the screen on the bank page.
    phone = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    _login(phone, demo_server)
    phone.goto(demo_server.url + "/admin/windows")
    look(phone, "agency-windows-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360


def _login_as(browser, server: Server, login: str, password: str, width: int = 1366):
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    log_in(page, server, login, password)
    return page


def _menu(page) -> list[str]:
    return page.eval_on_selector_all(
        "nav.menu a[href]:not(.lang)", "els => els.map(e => e.getAttribute('href'))"
    )


def _every_menu_page_opens(page, server: Server, name: str) -> list[str]:
    """Visit each menu entry: each must show its page, never a refusal."""
    labels = [
        t.strip()
        for t in page.eval_on_selector_all(
            "nav.menu a[href]:not(.lang)", "els => els.map(e => e.innerText)"
        )
    ]
    for i, href in enumerate(_menu(page)):
        response = page.goto(server.url + href)
        text = look(page, f"{name}-menu-{i}")
        assert response is not None and response.status == 200, href
        assert "您没有权限" not in text, href
    return labels


def _pass_humanities(server: Server, number: str) -> None:
    """The physician sits the humanities paper over the JSON API and answers every key."""
    http = physician_session(server.url, number, "Agency-Doc-2026")
    attempt = start_first_paper(server.url, http)
    headers = {"X-CSRFToken": http.get(server.url + "/api/v1/session").json()["csrf_token"]}
    for seq, (position, (qtype, answer, subs)) in enumerate(
        sorted(_keys(server, attempt["id"]).items()), start=1
    ):
        response = subs if qtype in ("case", "matching") else answer
        saved = http.put(
            f"{server.url}/api/v1/exam/attempts/{attempt['id']}/answers/{position}",
            json={"response": response, "seq": seq},
            headers=headers,
        )
        assert saved.ok, saved.text
    done = http.post(
        f"{server.url}/api/v1/exam/attempts/{attempt['id']}/submit", headers=headers
    ).json()
    assert done["result"]["passed"] is True


def test_sessions_invigilators_viewers_and_progress(demo_server, browser):
    from examsvc.accounts.ids import to_15
    from examsvc.demo.data import PHYSICIANS, demo_id

    first = demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8])  # simple procedure, clinical
    admin = _login_as(browser, demo_server, "admin", "Demo-Admin-2026")
    admin.goto(demo_server.url + "/admin/sessions")
    humanities = admin.eval_on_selector_all(
        "#window_id option",
        "os => os.filter(o => o.text.startsWith('2026 医学人文')).map(o => o.value)",
    )[0]
    admin.select_option("#window_id", humanities)
    admin.fill("#sname", "第一场")
    admin.click("form[action$='/admin/sessions'] button[type=submit]")
    text = look(admin, "agency-session-new")
    assert "第一场" in text and "监考：未指派" in text

    # One bad line: nothing is saved, the form comes back as typed, the line is named.
    admin.check("label:has-text('监考老师（演示）') >> input")
    typed = f"{to_15(first)}\n12345"
    admin.fill("textarea[name=candidates]", typed)
    admin.click("form:has(textarea[name=candidates]) >> text=保存")
    text = look(admin, "agency-session-bad-line")
    assert "未保存" in text and "本周期名单中没有此报名编号或证件号码" in text
    assert "2\t12345" in text or "2 12345" in text.replace("\t", " ")
    assert admin.input_value("textarea[name=candidates]") == typed
    assert admin.is_checked("label:has-text('监考老师（演示）') >> input")
    admin.fill("textarea[name=candidates]", to_15(first))  # the 15-digit form of the ID number
    admin.click("form:has(textarea[name=candidates]) >> text=保存")
    text = look(admin, "agency-session-saved")
    assert "已保存，新增考生 1 人" in text and "监考：监考老师（演示）" in text

    # The invigilator sees the session, and a menu of pages that open.
    proctor = _login_as(browser, demo_server, "jiankao", "Demo-Proctor-2026", width=360)
    text = look(proctor, "agency-invigilator-home")
    assert "我的监考场次" in text and "第一场" in text and "2026 医学人文测评试卷" in text
    assert "暂无指派的场次" not in text and "考生 1 人" in text
    controls = enabled_controls(proctor)
    assert "考生名单" not in controls and "账号管理" not in controls
    assert _every_menu_page_opens(proctor, demo_server, "agency-invigilator") == ["首页"]

    # The viewer: every menu entry opens, and no link leads to a refusal.
    viewer = _login_as(browser, demo_server, "viewer", "Demo-Viewer-2026")
    labels = _every_menu_page_opens(viewer, demo_server, "agency-viewer")
    assert "账号管理" not in labels and "操作日志" not in labels and "考生名单" in labels
    viewer.goto(demo_server.url + "/admin/roster")
    text = look(viewer, "agency-viewer-roster")
    assert "演示医师1号" in text and "演示医师1号" in enabled_controls(viewer)
    viewer.click("a:text('演示医师1号')")  # the physician's page, read-only
    text = look(viewer, "agency-viewer-roster-detail")
    assert "个人特殊安排" in text and "测评记录" in text
    assert not {"保存", "撤销", "增加可考次数"} & set(enabled_controls(viewer))

    # Progress after a pass, in the manuals' words.
    _pass_humanities(demo_server, first)
    admin.goto(demo_server.url + "/admin/roster")
    text = look(admin, "agency-roster-progress")
    rows = {
        line.split("\t")[0]: line
        for line in admin.inner_text("table:has(th:text('当前任务'))").splitlines()
    }
    assert "测评完成-合格" in rows["演示医师1号"]  # passed
    assert "测评完成-合格" in rows["演示医师4号"]  # exempt from its only paper
    assert "报名完成-等待测评" in rows["演示医师3号"]
    assert "pass" not in text and "pending" not in text
    admin.click("table:has(th:text('当前任务')) >> a:text('演示医师1号')")
    text = look(admin, "agency-roster-detail")
    assert "测评记录" in text and "第1次" in text and "合格" in text and "100.0" in text
    assert first not in text and first[-4:] in text
    assert "工作成绩\t合格" in text or "工作成绩\n合格" in text

    admin.goto(demo_server.url + "/admin/papers")
    text = look(admin, "agency-papers-in-use")
    assert "当前使用" in text
