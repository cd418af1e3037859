"""Accounts: login by ID number or user name, passwords, throttling, sessions, roles."""

from __future__ import annotations

from flask import Flask

from examsvc.accounts.auth import current_user, nav_url
from examsvc.web.i18n import register

# Each role in the manuals' words (the account pages and the audit log).
ROLE_LABELS = {
    "admin": "考核机构管理员",
    "invigilator": "监考人员",
    "viewer": "只读查看",
    "physician": "医师",
}

EN = {
    "登录": "Log in",
    "退出": "Log out",
    "证件号码 / 用户名": "ID number / user name",
    "密码": "Password",
    "请输入证件号码（用户名）和密码": "Please enter your ID number (user name) and password",
    "证件号码（用户名）或密码错误": "Wrong ID number (user name) or password",
    "身份证号码最后一位校验码不正确，请核对后重新输入（如末位为 X，大小写均可）": "The last (check) digit of this ID number is wrong; please check it (X may be upper or lower case)",
    "医师请使用电子化注册系统中的证件号码登录，可尝试15位或18位身份证号，末位X大小写均可。": "Physicians log in with the ID number of the electronic registration system; "
    "the 15- or 18-digit form both work, X in either case.",
    "初始密码为 666666，首次登录须修改密码。": "The initial password is 666666; you must change it at first login.",
    "忘记密码请联系所在机构或考核机构重置。": "Forgot your password? Ask your institution or the assessment agency to reset it.",
    "修改密码": "Change password",
    "首次登录请先修改密码。": "Please change your password before you continue.",
    "原密码": "Current password",
    "新密码": "New password",
    "确认新密码": "Repeat the new password",
    "密码至少8位，须包含大写字母、小写字母、数字、特殊符号中的至少三种。": "At least 8 characters, with at least three of: upper case, lower case, digits, symbols.",
    "绑定手机号（选填）": "Mobile phone (optional)",
    "确认修改": "Change",
    "密码修改成功": "Your password has been changed",
    "原密码不正确": "The current password is wrong",
    "密码长度至少为8位": "The password must have at least 8 characters",
    "密码须包含大写字母、小写字母、数字、特殊符号中的至少三种": "The password needs at least three of: upper case, lower case, digits, symbols",
    "新密码不能与原密码相同": "The new password must differ from the current one",
    "新密码不能包含初始密码 666666": "The new password may not contain the initial password 666666",
    "新密码不能包含证件号码或用户名": "The new password may not contain your ID number or user name",
    "不能包含初始密码 666666 或证件号码（用户名）。": " It may not contain 666666 or your ID number (user name).",
    "尝试次数过多，请 {n} 秒后再试": "Too many tries: please try again in {n} seconds",
    "尝试次数过多，请 {n} 分钟后再试": "Too many tries: please try again in {n} minutes",
    "确认重置密码": "Confirm the password reset",
    "确认将该医师的密码重置为初始密码 666666 吗？": "Reset this physician's password to the initial password 666666?",
    "确认重置该工作人员的密码吗？将生成新的一次性密码，仅显示一次。": "Reset this staff member's password? A new one-time password is generated and shown once.",
    "重置后，该账号已登录的设备立即退出，下次登录须修改密码。请先核实本人身份。": "Every device logged in to this account is logged out, and the password must be "
    "changed at the next login. Check the person's identity first.",
    "确认重置": "Reset",
    "取消": "Cancel",
    "两次输入的新密码不一致": "The two new passwords differ",
    "请输入11位手机号码": "Please enter an 11-digit mobile number",
    "账号管理": "Accounts",
    "新建工作人员账号": "New staff account",
    "角色": "Role",
    "用户名": "User name",
    "姓名": "Name",
    "创建": "Create",
    "工作人员": "Staff",
    "状态": "Status",
    "操作": "Actions",
    "启用": "Active",
    "停用": "Deactivate",
    "重置密码": "Reset password",
    "重置医师密码": "Reset a physician's password",
    "姓名或证件号码": "Name or ID number",
    "查询": "Search",
    "证件号码": "ID number",
    "单位": "Institution",
    "重置为初始密码": "Reset to the initial password",
    "没有找到": "Nothing found",
    "考核机构管理员": "Agency administrator",
    "监考人员": "Invigilator",
    "只读查看": "Read-only viewer",
    "不能停用自己的账号": "You cannot deactivate your own account",
    "请选择角色": "Please choose a role",
    "请填写用户名和姓名": "Please fill in the user name and the name",
}


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.accounts import cli, views

    register(EN)
    app.register_blueprint(views.bp)
    # Who is logged in, for every page (the shell in examsvc.web knows no accounts).
    app.jinja_env.globals["nav_url"] = nav_url
    app.context_processor(lambda: {"current_user": current_user()})
    app.cli.add_command(cli.users)
