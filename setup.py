"""The packages, with the top-level templates/ and migrations/ shipped inside the examsvc
package as ``examsvc/_templates`` and ``examsvc/_migrations`` (examsvc.app finds them there
when it runs from an installed wheel), and the translation catalogs compiled by the build
(examsvc/translations/*/LC_MESSAGES/messages.po -> .mo). Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

SHIPPED = {"examsvc._templates": "templates", "examsvc._migrations": "migrations"}


def folders(package: str, folder: str) -> list[str]:
    """``package`` and one package per subfolder of ``folder`` (templates/accounts, …)."""
    subfolders = sorted(
        p for p in Path(folder).rglob("*") if p.is_dir() and p.name != "__pycache__"
    )
    return [package, *(".".join([package, *p.relative_to(folder).parts]) for p in subfolders)]


class build_with_catalogs(build_py):
    """``pybabel compile`` before the package files are collected, so the wheel carries the
    compiled catalogs (they are build output, not in git)."""

    def run(self) -> None:
        from babel.messages.frontend import CompileCatalog

        compile_catalog = CompileCatalog(self.distribution)
        compile_catalog.directory = "examsvc/translations"
        compile_catalog.finalize_options()
        compile_catalog.run()
        super().run()


setup(
    cmdclass={"build_py": build_with_catalogs},
    packages=[
        *find_namespace_packages(include=["examsvc*", "proctoring*", "question_banks*"]),
        *(name for package, folder in SHIPPED.items() for name in folders(package, folder)),
    ],
    package_dir=SHIPPED,
)
