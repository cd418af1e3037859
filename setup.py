"""The packages, with the top-level templates/ and migrations/ shipped inside the examsvc
package as ``examsvc/_templates`` and ``examsvc/_migrations`` (examsvc.app finds them there
when it runs from an installed wheel). Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import find_namespace_packages, setup

SHIPPED = {"examsvc._templates": "templates", "examsvc._migrations": "migrations"}


def folders(package: str, folder: str) -> list[str]:
    """``package`` and one package per subfolder of ``folder`` (templates/accounts, …)."""
    subfolders = sorted(
        p for p in Path(folder).rglob("*") if p.is_dir() and p.name != "__pycache__"
    )
    return [package, *(".".join([package, *p.relative_to(folder).parts]) for p in subfolders)]


setup(
    packages=[
        *find_namespace_packages(include=["examsvc*", "proctoring*", "question_banks*"]),
        *(name for package, folder in SHIPPED.items() for name in folders(package, folder)),
    ],
    package_dir=SHIPPED,
)
