"""Kairos' built-in network plugins. Each imports only :mod:`publishers` and is registered
through the ``kairos.publishers`` entry points in ``pyproject.toml``, exactly like a third
party's."""
