"""The camera tests' world: a physician with a real registration photo, a paper open now."""

from __future__ import annotations

from tests.camera.conftest import gate, phone  # noqa: F401  (fixtures)
