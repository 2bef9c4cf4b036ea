"""The processes under test, and a seeded killer that crashes them.

:class:`Fleet` names each child (``qcluster-0``, ``dispatcher-0`` …) on top of
:class:`calendar_app.processes.ProcessGroup` and remembers, at each kill, which pids died: a
worker writes ``host:pid`` into ``Publication.claimed_by`` and ``DeliveryAttempt.worker``, so the
pids are what links a kill to the publications it interrupted (owners may carry a token after
the pid, ``host:pid:token``).

:class:`Killer` is a thread that SIGKILLs a random process group at random moments, restarts it
after a short random pause, and, like a process supervisor would, restarts any child that died on
its own (counted as a crash).
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from calendar_app.processes import ProcessGroup

__all__ = ["Fleet", "KillRecord", "Killer", "group_pids"]


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, …)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return found


def group_pids(leader: int) -> list[int]:
    """Every live process of ``leader``'s process group, plus its descendants (bounded walk).

    django-q2's sentinel forks its workers into the same group; the descendant walk also catches
    a child that moved to a group of its own.
    """
    members = {leader}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and len(fields) > 2 and fields[2] == str(leader):
                members.add(int(entry))
    seen: set[int] = set()
    frontier = list(members)
    while frontier and len(seen) < 10_000:
        pid = frontier.pop()
        if pid not in seen:
            seen.add(pid)
            frontier.extend(child for child in _children(pid) if child not in seen)
    return sorted(pid for pid in seen if _stat_fields(pid) is not None)


@dataclass
class KillRecord:
    """One SIGKILL: which group, when (UTC, the clock the database rows use) and whose pids."""

    name: str
    at: datetime
    uptime: float
    pids: list[int]
    workers: list[str]  # "host:pid", the prefix of the claim owners those processes wrote
    inflight: list[int] | None = None  # claimed by those workers just after the kill
    restarted_after: float | None = None


class Fleet:
    """The named children of a chaos run."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        log_dir: Path,
        clusters: int,
        dispatchers: int,
        dispatcher_args: Sequence[str] = (),
    ) -> None:
        self.group = ProcessGroup(env=env, log_dir=log_dir)
        self.commands: dict[str, tuple[str, ...]] = {}
        for index in range(clusters):
            self.commands[f"qcluster-{index}"] = ("qcluster",)
        for index in range(dispatchers):
            self.commands[f"dispatcher-{index}"] = ("run_dispatcher", *dispatcher_args)
        self.lock = threading.RLock()
        self.started_at: dict[str, float] = {}
        self.crashes: list[dict] = []
        self.host = socket.gethostname()

    def start(self, name: str) -> None:
        with self.lock:
            self.group.start(name, *self.commands[name])
            self.started_at[name] = time.monotonic()

    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def alive(self) -> list[str]:
        with self.lock:
            return sorted(n for n, p in self.group.running.items() if p.poll() is None)

    def uptime(self, name: str) -> float:
        return time.monotonic() - self.started_at.get(name, time.monotonic())

    def kill(self, name: str) -> KillRecord:
        """SIGKILL the whole group of ``name`` (it is not restarted here)."""
        with self.lock:
            proc = self.group.running[name]
            pids = group_pids(proc.pid)
            at = datetime.now(UTC)
            uptime = self.uptime(name)
            try:
                self.group.kill(name)
            except ProcessLookupError:  # it died by itself a moment ago
                self.group.running.pop(name, None)
                proc.wait(timeout=10)
        return KillRecord(
            name=name,
            at=at,
            uptime=round(uptime, 2),
            pids=pids,
            workers=[f"{self.host}:{pid}" for pid in pids],
        )

    def restart_crashed(self, exclude: Sequence[str] = ()) -> list[str]:
        """Restart children that exited on their own; returns their names."""
        restarted = []
        with self.lock:
            for name, code in self.group.exited().items():
                if name in exclude:
                    continue
                self.group.running.pop(name)
                self.crashes.append(
                    {"name": name, "exit_code": code, "uptime": round(self.uptime(name), 1)}
                )
                self.start(name)
                restarted.append(name)
        return restarted

    def ensure_all_running(self) -> None:
        with self.lock:
            self.restart_crashed()
            for name in self.commands:
                if name not in self.group.running:
                    self.start(name)

    def stop(self) -> list[str]:
        with self.lock:
            return self.group.stop_all()

    def logs(self, tail: int = 3000) -> str:
        return self.group.logs(tail=tail)


class Killer(threading.Thread):
    """Kills ``kills`` random groups between ``start_at`` and ``end_at`` (monotonic seconds).

    The victim is drawn among children up for at least ``min_uptime`` seconds (a process killed
    while it is still importing Django proves little); it comes back after a pause drawn from
    ``pause``. ``on_kill`` runs right after each kill (to snapshot the claims it left behind).
    A kill that finds no victim for ``give_up_after`` seconds is skipped (counted). The thread
    keeps supervising after the last kill until :meth:`stop`.
    """

    def __init__(
        self,
        fleet: Fleet,
        *,
        kills: int,
        start_at: float,
        end_at: float,
        seed: int,
        pause: tuple[float, float] = (0.3, 2.5),
        min_uptime: float = 2.0,
        give_up_after: float = 30.0,
        on_kill: Callable[[KillRecord], None] | None = None,
    ) -> None:
        super().__init__(name="chaos-killer", daemon=True)
        self.fleet = fleet
        self.rng = random.Random(seed)
        self.pause = pause
        self.min_uptime = min_uptime
        self.give_up_after = give_up_after
        self.on_kill = on_kill
        step = (end_at - start_at) / max(kills, 1)
        self.schedule = [start_at + step * (i + self.rng.uniform(0.1, 0.9)) for i in range(kills)]
        self.records: list[KillRecord] = []
        self.skipped = 0
        self.errors: list[str] = []
        self.kills_done = threading.Event()
        self._stopping = threading.Event()
        self._no_more_kills = threading.Event()
        self._pending: dict[str, tuple[float, KillRecord]] = {}
        if not kills:
            self.kills_done.set()

    def stop(self) -> None:
        self._stopping.set()

    def finish_kills(self) -> None:
        """Skip the kills not made yet (the run's time is up); keep supervising."""
        self._no_more_kills.set()

    def run(self) -> None:
        index = 0
        try:
            while not self._stopping.is_set():
                if self._no_more_kills.is_set() and index < len(self.schedule):
                    self.skipped += len(self.schedule) - index
                    index = len(self.schedule)
                    self.kills_done.set()
                now = time.monotonic()
                self._restart_due(now)
                try:
                    self.fleet.restart_crashed(exclude=list(self._pending))
                except Exception as exc:  # keep supervising whatever happens
                    self.errors.append(f"restart: {exc!r}")
                if index < len(self.schedule) and now >= self.schedule[index]:
                    if self._kill_one(now):
                        index += 1
                    elif now - self.schedule[index] > self.give_up_after:
                        self.skipped += 1
                        index += 1
                    if index >= len(self.schedule):
                        self.kills_done.set()
                self._stopping.wait(0.05)
        finally:
            self.kills_done.set()
            from django.db import connection

            connection.close()

    def _kill_one(self, now: float) -> bool:
        candidates = [
            name
            for name in self.fleet.alive()
            if name not in self._pending and self.fleet.uptime(name) >= self.min_uptime
        ]
        if not candidates:
            return False
        record = self.fleet.kill(self.rng.choice(candidates))
        if self.on_kill is not None:
            try:
                self.on_kill(record)
            except Exception as exc:
                self.errors.append(f"on_kill: {exc!r}")
        self.records.append(record)
        self._pending[record.name] = (now + self.rng.uniform(*self.pause), record)
        return True

    def _restart_due(self, now: float) -> None:
        for name, (at, record) in list(self._pending.items()):
            if now >= at:
                try:
                    self.fleet.start(name)
                except Exception as exc:
                    self.errors.append(f"start {name}: {exc!r}")
                    continue
                record.restarted_after = round((datetime.now(UTC) - record.at).total_seconds(), 2)
                del self._pending[name]
