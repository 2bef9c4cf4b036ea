"""A real IMAP server (``pymap``, from PyPI) on 127.0.0.1 for the email plugin's reply tests.

pymap is an IMAP4rev1 server in Python with an in-memory backend: one mailbox user, TLS off,
loopback only. It pins its own dependencies, so it is installed into a dedicated virtualenv kept
in the test cache (``$KAIROS_TEST_CACHE``, else ``~/.cache/kairos-tests``), created once under a
file lock (tests/plugins/cached_venv.py). Tests deliver mail into it with ``APPEND``, as a mail
server's delivery agent would, and the plugin reads it back with the standard IMAP client.

    with ImapServer() as imap:
        imap.deliver(b"From: ana@example.com\\r\\n...")
"""

from __future__ import annotations

import contextlib
import imaplib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.cached_venv import InstallError, ensure_venv, free_port
from tests.plugins.server_process import stop_group, unavailable

PYMAP_VERSION = "0.36.7"
START_TIMEOUT_S = 30.0
USER = "replies"
PASSWORD = "replies-pw"


class ImapInstallError(InstallError):
    """pymap could not be installed (typically: no route to PyPI)."""


def ensure_pymap(cache_dir: Path | None = None) -> Path:
    """The python of the cached virtualenv holding pymap."""
    try:
        return ensure_venv(
            f"pymap-{PYMAP_VERSION}", f"pymap=={PYMAP_VERSION}", "import pymap", cache_dir
        )
    except InstallError as exc:
        raise ImapInstallError(str(exc)) from exc


class ImapServer:
    """A throwaway pymap server with one mailbox (``USER``/``PASSWORD``)."""

    def __init__(self, python: Path | None = None) -> None:
        self.python = Path(python) if python is not None else ensure_pymap()
        self.port = 0
        self.dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def client(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(USER, PASSWORD)
        return conn

    def deliver(self, raw: bytes, mailbox: str = "INBOX") -> None:
        """Put one message in the mailbox, as the mail server's delivery would."""
        conn = self.client()
        try:
            status, data = conn.append(mailbox, None, None, raw)
            assert status == "OK", data
        finally:
            conn.logout()

    def __enter__(self) -> ImapServer:
        self.dir = Path(tempfile.mkdtemp(prefix="kairos-imap-"))
        self.port = free_port()
        pymap = self.python.parent / "pymap"
        cmd = [
            str(pymap),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-tls",
            "dict",
            "--demo-user",
            USER,
            "--demo-password",
            PASSWORD,
        ]
        with open(self.dir / "pymap.log", "ab") as log:
            self._proc = subprocess.Popen(
                cmd, cwd=self.dir, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            time.sleep(0.1)
        log_text = (self.dir / "pymap.log").read_text(errors="replace")[-2000:]
        self.__exit__()
        raise RuntimeError(f"pymap did not start:\n{log_text}")

    def __exit__(self, *exc_info: object) -> None:
        proc, self._proc = self._proc, None
        stop_group(proc)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


def pymap_or_skip() -> Path:
    """``ensure_pymap()``, but skip when it cannot be had (fail under ``CI``)."""
    try:
        return ensure_pymap()
    except ImapInstallError as exc:
        reason = f"pymap {PYMAP_VERSION} (the IMAP test server) is not available: {exc}"
        unavailable(reason)


@pytest.fixture(scope="module", name="imap")
def imap_fixture() -> Iterator[ImapServer]:
    with ImapServer(pymap_or_skip()) as server:
        yield server
