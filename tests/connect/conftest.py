"""Connections are started through the API: its token clients serve here too."""

from tests.api.conftest import client_for

__all__ = ["client_for"]
