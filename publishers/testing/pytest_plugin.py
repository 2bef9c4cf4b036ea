"""Registered with pytest through the ``pytest11`` entry point of Kairos' package, so a plugin's
tests get the kit's fixtures (``fake_server``) without a ``conftest.py`` line."""

from publishers.testing.servers import fake_server

__all__ = ["fake_server"]
