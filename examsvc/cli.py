"""The ``examsvc`` command. ``examsvc serve`` patches the standard library with gevent
before anything else is imported; every other command runs without gevent.

``--help`` works without any configuration; a missing or malformed setting is one line on
stderr naming the variable, and exit status 2."""

from __future__ import annotations

import sys

import click
from flask import Flask

from examsvc import create_app
from examsvc.config import ConfigError

HELP_FLAGS = {"--help", "-h"}


def _load_app(help_only: bool) -> Flask:
    try:
        return create_app()
    except ConfigError as exc:
        if help_only and "EXAMSVC_SECRET_KEY" in str(exc):
            # Only the command list and its help text are needed: nothing is signed.
            return create_app({"SECRET_KEY": "help-only"})
        click.echo(f"examsvc: {exc}", err=True)
        sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"] and not HELP_FLAGS & set(args):
        # local import: gevent patches the standard library before the app is imported
        from gevent import monkey

        monkey.patch_all()
    from flask.cli import FlaskGroup  # local import: after gevent's patching (see above)

    help_only = not args or bool(HELP_FLAGS & set(args))
    cli = FlaskGroup(
        create_app=lambda: _load_app(help_only),
        add_version_option=False,
        load_dotenv=False,
        help="examsvc: the proctored examination service. See README.md.",
    )
    cli.main(args=args, prog_name="examsvc")


if __name__ == "__main__":
    main()
