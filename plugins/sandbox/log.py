"""What a worker knows of one sandbox channel file, caught up incrementally.

The file is append-only and shared by every worker process (each check-then-append holds an
``fcntl`` lock), so a process can keep an index of it and, under the lock, read only the bytes
appended since it last looked. A post then costs what one post costs, not what the whole history
of the channel costs (rereading and parsing 2,000 lines per post made a 10,000-post burst
quadratic). A file that was replaced or truncated (a demo reset) is read again from the start.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from typing import IO, Any


class ChannelLog:
    """Index of one channel's records: live posts by idempotency key and by external id,
    deletions, and scripted failures per key."""

    def __init__(self) -> None:
        #: Threads of one process share the index; processes are kept apart by the file lock.
        self.lock = threading.Lock()
        self._reset(None)

    def _reset(self, inode: int | None) -> None:
        self.inode = inode
        self.offset = 0
        self.posts_by_key: dict[str, dict[str, Any]] = {}
        self.posts_by_id: dict[str, dict[str, Any]] = {}
        self.deleted_at: dict[str, str] = {}
        self.failures: Counter[str] = Counter()

    def catch_up(self, handle: IO[bytes]) -> ChannelLog:
        """Read what other processes appended; call with the file lock held."""
        stat = os.fstat(handle.fileno())
        if stat.st_ino != self.inode or stat.st_size < self.offset:
            self._reset(stat.st_ino)
        if stat.st_size > self.offset:
            handle.seek(self.offset)
            chunk = handle.read(stat.st_size - self.offset)
            complete = chunk.rfind(b"\n") + 1  # a line being written is read next time
            for line in chunk[:complete].splitlines():
                if line.strip():
                    self.apply(json.loads(line))
            self.offset += complete
        return self

    def append(self, handle: IO[bytes], record: dict[str, Any]) -> None:
        """Write ``record`` at the end of the file and index it; call with the lock held."""
        handle.seek(0, os.SEEK_END)
        handle.write((json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode())
        handle.flush()  # in the kernel's hands: a killed worker loses nothing it wrote
        self.apply(record)
        self.offset = handle.tell()

    def apply(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind == "post":
            self.posts_by_id[record["external_id"]] = record
            current = self.posts_by_key.get(record["idempotency_key"])
            if current is None or current["external_id"] in self.deleted_at:
                self.posts_by_key[record["idempotency_key"]] = record  # the first live one
        elif kind == "delete":
            self.deleted_at.setdefault(record["external_id"], record["at"])
        elif kind == "failure":
            self.failures[record["idempotency_key"]] += 1

    def live(self, key: str) -> dict[str, Any] | None:
        """The post made with idempotency ``key``, unless it was deleted."""
        record = self.posts_by_key.get(key)
        if record is None or record["external_id"] in self.deleted_at:
            return None
        return record
