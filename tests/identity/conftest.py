"""Fixtures of the identity suite."""

from tests.personas import personas

__all__ = ["personas"]
