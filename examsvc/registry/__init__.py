"""The registration system: its HTTP client (``client.py``), shared by the roster's pulls and
the result write-back. It imports no other feature."""

from examsvc.registry.client import (
    RegistryClient,
    RegistryError,
    RegistryUnreadable,
    Reply,
    RetryPolicy,
    retry_after_seconds,
)

__all__ = [
    "RegistryClient",
    "RegistryError",
    "RegistryUnreadable",
    "Reply",
    "RetryPolicy",
    "retry_after_seconds",
]
