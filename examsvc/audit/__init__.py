"""The audit log: ``operations.record`` adds an event (every feature writes here); the
page that reads the log is in the back office (``examsvc.admin.audit``)."""

from __future__ import annotations

from flask import Flask

from examsvc.web.i18n import register

EN = {
    "登录": "Log in",
    "操作日志": "Audit log",
    "操作类别": "Kind of action",
    "全部操作": "All actions",
    "时间": "Time",
    "操作人": "By",
    "对象": "Object",
    "详情": "Details",
    "没有记录": "Nothing recorded",
    "命令行": "command line",
    "未登录访客": "not logged in",
    "系统": "the service",
    "登录失败": "Failed login",
    "退出登录": "Log out",
    "新建账号": "New account",
    "启用或停用账号": "Account activated or deactivated",
    "交卷": "Paper submitted",
    "导入考生名单": "Roster imported",
    "设置延长时间": "Extra time set",
    "导入题库": "Question bank imported",
    "保存试卷": "Paper saved",
    "添加考试时间": "Exam window added",
    "修改考试时间": "Exam window changed",
    "新建考点": "Exam site created",
    "新建场次": "Session created",
    "安排场次考生": "Session candidates assigned",
    "登录与退出": "Logins and logouts",
    "账号与密码": "Accounts and passwords",
    "测评与交卷": "Attempts and submissions",
    "考生名单": "Roster",
    "题库": "Question banks",
    "试卷与考试时间": "Papers and windows",
    "考点与场次": "Sites and sessions",
}


def init_app(app: Flask) -> None:
    register(EN)  # the page itself is in the back office (examsvc.admin.audit)
