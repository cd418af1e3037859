"""The health authority's viewer opens progress and statistics for the demo cycle, on a
phone and a desktop: the numbers a person reads, the charts drawn, a drill-down."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import log_in, look, server_database

pytestmark = pytest.mark.browser


def _sit(base: str) -> None:
    """Two of the demo physicians have sat the humanities paper: one passed, one failed."""
    from examsvc.enums import PaperKind, WindowRound
    from examsvc.extensions import db
    from examsvc.papers.models import ExamWindow, Paper
    from examsvc.roster.models import Physician
    from tests.factories_exam import create_attempt

    with server_database(base):
        paper = db.session.scalars(
            sa.select(Paper).where(Paper.kind == PaperKind.HUMANITIES)
        ).first()
        assert paper is not None
        window = db.session.scalars(
            sa.select(ExamWindow).where(
                ExamWindow.paper_id == paper.id, ExamWindow.round == WindowRound.REGULAR
            )
        ).one()
        people = {p.name: p for p in db.session.scalars(sa.select(Physician))}
        create_attempt(people["演示医师1号"], paper, window, "passed")
        create_attempt(people["演示医师2号"], paper, window, "failed")
        db.session.commit()


def _canvas_drawn(page, selector: str) -> bool:
    """Some pixel of the canvas is painted."""
    return page.eval_on_selector(
        selector,
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
                  return false; }""",
    )


def fits_the_screen(page, width: int) -> None:
    """The page is no wider than the screen once its layout has settled: ``look`` shows it at
    1366 px for a screenshot first, and Chart.js resizes its canvases back on the next
    frames, not at once."""
    page.wait_for_function(f"document.documentElement.scrollWidth <= {width}", timeout=10_000)


@pytest.mark.parametrize("width", [1366, 360])
def test_the_viewer_reads_progress_and_statistics(demo_server, browser, width):
    if width == 1366:
        _sit(demo_server.url)
    page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    log_in(page, demo_server, "viewer", "Demo-Viewer-2026")
    page.click("nav.menu >> text=考试进度")
    assert page.url.endswith("/admin/progress")
    text = look(page, f"statistics-progress-{width}")
    figures = {
        key: page.text_content(f'a[data-figure="{key}"]')
        for key in ("roster", "not_started", "submitted", "exempt", "in_progress")
    }
    # Seven demo physicians; 4号 is exempt from humanities (simple procedure).
    assert figures == {
        "roster": "7",
        "not_started": "4",
        "submitted": "2",
        "exempt": "1",
        "in_progress": "0",
    }
    assert "各试卷状态" in text and "未开始" in text
    fits_the_screen(page, width)

    page.click("nav.tabs >> text=考核统计")
    assert page.url.endswith("/admin/statistics")
    page.wait_for_function("document.querySelectorAll('canvas').length === 2")
    text = look(page, f"statistics-results-{width}")
    # 1号 passed the humanities paper, 4号 is exempt from it (both simple procedure).
    assert page.text_content('a[data-figure="passed"]') == "2"
    assert "合格率" in text and "分数分布" in text
    assert _canvas_drawn(page, "#pass-rate-chart") and _canvas_drawn(page, "#score-chart")
    fits_the_screen(page, width)
    # No action but reading: the only forms are the filters and the log-out.
    assert page.locator("main form[method=post]").count() == 0

    page.click('a[data-figure="passed"]')
    text = look(page, f"statistics-people-{width}")
    assert "合格" in text and "共 2 人" in text
    assert "演示医师1号" in text and "演示医师4号" in text and "演示医师2号" not in text
    assert "430102" not in text.replace("430*****", "")  # ID numbers masked
    fits_the_screen(page, width)
