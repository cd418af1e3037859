"""The attempts' fixtures (a paper open now, a physician past the gate) for the ops tests."""

from tests.attempts.conftest import candidate, exam  # noqa: F401
