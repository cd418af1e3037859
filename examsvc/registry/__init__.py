"""The registration system: its HTTP client (``client.py``), shared by the roster's pulls and
the result write-back to come. It imports no other feature."""

from examsvc.registry.client import RegistryClient, RegistryError, RegistryUnreadable, RetryPolicy

__all__ = ["RegistryClient", "RegistryError", "RegistryUnreadable", "RetryPolicy"]
