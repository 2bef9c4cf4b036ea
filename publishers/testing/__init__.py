"""Test helpers for plugin authors: the conformance suite, a real loopback HTTP server, and a
relay that counts the connections a plugin opens.

Import from here in tests only (it needs pytest)::

    from publishers.testing import FakeServer, NetworkConformance, Reply
"""

from publishers.testing.conformance import NetworkConformance
from publishers.testing.connections import CountingProxy
from publishers.testing.delivery import deliver_with, only, tiny_png
from publishers.testing.servers import FakeServer, RecordedRequest, Reply, fake_server

__all__ = [
    "CountingProxy",
    "FakeServer",
    "NetworkConformance",
    "RecordedRequest",
    "Reply",
    "deliver_with",
    "fake_server",
    "only",
    "tiny_png",
]
