"""Refusing webhook targets inside our own network (server-side request forgery).

The implementation lives in :mod:`publishers.addresses`, shared with Kairos' outbound webhooks;
this module keeps the plugin's historical import path working.
"""

from __future__ import annotations

from publishers import AddressRefused, Target, is_public_address, resolve_target

__all__ = ["AddressRefused", "Target", "is_public_address", "resolve_target"]
