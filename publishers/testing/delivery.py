"""Delivering through the real pipeline in a plugin's tests, and a picture to deliver.

Calling ``publish`` directly skips what Kairos does around it: rendering, validation of every
part, media uploads, thread parts and their progress, reconciliation. :func:`deliver_with` runs
the real pipeline with only the network under test installed, so a plugin's tests see exactly
what Kairos will send.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from publishers.hookspecs import hookimpl
from publishers.manager import KairosPlugins, build_plugin_manager
from publishers.network import Network
from publishers.pipeline import Outcome, deliver
from publishers.values import ChannelContext, Post

__all__ = ["deliver_with", "only", "tiny_png"]


def only(network: Network) -> KairosPlugins:
    """A plugin manager holding ``network`` and nothing else (no entry points)."""

    class Only:
        @hookimpl
        def register_networks(self) -> list[Network]:
            return [network]

    return build_plugin_manager(
        extra_plugins=[(f"only-{network.key}", Only())], load_entrypoints=False
    )


def deliver_with(
    network: Network, post: Post, channel: ChannelContext, key: str, **options: Any
) -> Outcome:
    """One delivery attempt of an already-rendered ``post`` as Kairos makes it (parts, uploads,
    progress; ``options`` as for :func:`publishers.deliver`)."""
    options.setdefault("render", False)
    return deliver(only(network), post, channel, key, **options)


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A real (red) PNG, written by hand so the kit needs no imaging library."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
