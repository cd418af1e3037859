"""The ``examsvc`` command. ``examsvc serve`` patches the standard library with gevent
before anything else is imported; every other command runs without gevent."""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        from gevent import monkey

        monkey.patch_all()
    from flask.cli import FlaskGroup

    from examsvc import create_app

    cli = FlaskGroup(
        create_app=lambda: create_app(),
        add_version_option=False,
        load_dotenv=False,
        help="examsvc: the proctored examination service. See README.md.",
    )
    cli.main(prog_name="examsvc")


if __name__ == "__main__":
    main()
