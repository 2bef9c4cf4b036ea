"""Test helpers for plugin authors: the conformance suite and a real loopback HTTP server.

Import from here in tests only (it needs pytest)::

    from publishers.testing import FakeServer, NetworkConformance, Reply
"""

from publishers.testing.conformance import NetworkConformance
from publishers.testing.delivery import deliver_with, only, tiny_png
from publishers.testing.servers import FakeServer, RecordedRequest, Reply, fake_server

__all__ = [
    "FakeServer",
    "NetworkConformance",
    "RecordedRequest",
    "Reply",
    "deliver_with",
    "fake_server",
    "only",
    "tiny_png",
]
