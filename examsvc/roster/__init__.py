"""The roster: physicians approved for the exam, pulled from the registration system."""

from __future__ import annotations

from flask import Flask

from examsvc.jobs import JOBS, every
from examsvc.web.i18n import register

EN = {
    "考生名单": "Roster",
    "未配置登记系统接口，请使用名单文件导入": "No registry API is configured: import a roster file instead",
    "已开始同步，稍后刷新本页查看结果": "The pull has started; reload this page for the result",
    "请先创建考核周期": "Create the assessment cycle first",
    "请选择名单文件": "Please choose a roster file",
    "导入成功：": "Imported: ",
    "延长时间须为 0–240 分钟": "The extra time must be 0–240 minutes",
    "已保存": "Saved",
    "立即同步": "Pull now",
    "导入名单文件": "Import a roster file",
    "下载名单模板": "Download the roster template",
    "照片问题": "Photo problems",
    "数据问题": "Data problems",
    "最近同步": "Last pull",
    "名单文件有错误，未导入任何数据": "The roster file has errors; nothing was imported",
    "当前任务": "Current task",
    "报名完成-等待测评": "Registered - waiting for the test",
    "测评进行中": "Test in progress",
    "不合格-等待补考": "Failed - waiting for the makeup",
    "测评完成-合格": "Tests done - passed",
    "测评完成-不合格": "Tests done - failed",
    "测评完成-等待评定": "Tests done - evaluations pending",
    "不合格": "Failed",
    "可以测评": "May sit it now",
    "可以补考": "May sit the makeup now",
    "等待考试开始": "Waiting for the window",
    "等待医学人文测评合格": "Waiting for the humanities pass",
    "免考通过": "Exempt (passed)",
    "合格": "Passed",
    "待评定": "Pending",
    "测评记录": "Attempts",
    "开始时间": "Started",
    "交卷时间": "Submitted",
    "违纪终止": "Ended for a violation",
    "暂无测评记录": "No attempts yet",
}


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.accounts.views import PHYSICIAN_SEARCH
    from examsvc.roster import cli, views
    from examsvc.roster.jobs import pull_interval, scheduled_pull
    from examsvc.roster.queries import search_physicians

    register(EN)
    app.extensions[PHYSICIAN_SEARCH] = search_physicians
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.roster)
    if not any(job.name == "roster-pull" for job in JOBS):
        every("roster-pull", pull_interval)(scheduled_pull)
