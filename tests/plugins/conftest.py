"""Fixtures for the built-in plugins' tests."""

from __future__ import annotations

from publishers.testing import fake_server

__all__ = ["fake_server"]
