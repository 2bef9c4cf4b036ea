"""A real AT Protocol Personal Data Server (``@atproto/pds`` from npm) on 127.0.0.1 for tests.

The PDS needs a PLC directory to create accounts (``did:plc`` identities); an in-memory
``@did-plc/server`` runs beside it in the same Node process (``bluesky_pds.js``), both bound to
loopback on free ports, with invite codes off and the data in a temporary directory.

The npm install (about a minute: ``better-sqlite3`` compiles) is kept in a cache directory
(``$KAIROS_TEST_CACHE``, else ``~/.cache/kairos-tests``) keyed by the two package versions and
Node's major version, created once under a file lock, with a ``.complete`` marker written only
after the packages load - as ``cached_venv.py`` does for Python servers. A warm start takes
about two seconds.

Without ``node``/``npm`` the tests skip with the reason; with ``CI`` set they fail instead (CI
installs Node and must not silently lose its Bluesky coverage).

    with BlueskyPds() as pds:
        alice = pds.create_account("alice.test")
        password = pds.app_password(alice)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugins.cached_venv import INSTALL_TIMEOUT_S, InstallError, default_cache_dir
from tests.plugins.server_process import stop_group, unavailable

PDS_VERSION = "0.4.217"  # the last line that runs on Node 20 (0.5 needs Node 22)
PLC_VERSION = "0.0.1"
LAUNCHER = Path(__file__).with_name("bluesky_pds.js")
START_TIMEOUT_S = 60.0


class PdsInstallError(InstallError):
    """Node, npm or the packages are missing and could not be installed."""


class PdsStartError(RuntimeError):
    """The packages are installed but the server did not come up."""


def _node_major() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        raise PdsInstallError("node and npm are not installed (apt-get install nodejs npm)")
    done = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip().lstrip("v").split(".")[0]


def ensure_pds(cache_dir: Path | None = None) -> Path:
    """The ``node_modules`` directory holding the PDS and the PLC server (installed once)."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = f"atproto-pds-{PDS_VERSION}-plc-{PLC_VERSION}-node{_node_major()}"
    root = cache_dir / stem
    modules = root / "node_modules"
    marker = root / ".complete"
    if marker.exists():
        return modules
    with open(cache_dir / f"{stem}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if marker.exists():  # another process finished it
            return modules
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        (root / "package.json").write_text(
            json.dumps({"name": "kairos-test-pds", "private": True}) + "\n"
        )
        steps = [
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"@atproto/pds@{PDS_VERSION}",
                f"@did-plc/server@{PLC_VERSION}",
            ],
            ["node", "-e", "require('@atproto/pds'); require('@did-plc/server')"],
        ]
        for cmd in steps:
            try:
                done = subprocess.run(
                    cmd,
                    cwd=root,
                    env={**os.environ, "NODE_PATH": str(modules)},
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                shutil.rmtree(root, ignore_errors=True)
                raise PdsInstallError(f"{cmd[:2]} failed: {exc}") from exc
            if done.returncode != 0:
                shutil.rmtree(root, ignore_errors=True)
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
                raise PdsInstallError(f"{' '.join(cmd[:3])}... exited {done.returncode}:\n{tail}")
        marker.write_text(f"@atproto/pds@{PDS_VERSION} @did-plc/server@{PLC_VERSION}\n")
    return modules


class BlueskyPds:
    """A throwaway PDS (and PLC directory); use as a context manager.

    ``rate_limits=True`` turns on the PDS's own rate limits (e.g. 30 logins per five minutes
    per account), which are off otherwise so no test is throttled.
    """

    def __init__(self, modules: Path | None = None, *, rate_limits: bool = False) -> None:
        self.modules = Path(modules) if modules is not None else ensure_pds()
        self.rate_limits = rate_limits
        self.dir: Path | None = None
        self.info: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._http = httpx.Client(timeout=30)

    # -- what tests use -------------------------------------------------------

    @property
    def url(self) -> str:
        return self.info["pds"]

    @property
    def jwt_secret(self) -> str:
        """The key the PDS signs its session tokens with (HS256), to make a token in a test."""
        return self.info["jwt_secret"]

    @property
    def service_did(self) -> str:
        return self.info["service_did"]

    def xrpc(
        self, method: str, nsid: str, *, token: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """One XRPC call that must succeed."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self._http.request(method, f"{self.url}/xrpc/{nsid}", headers=headers, **kwargs)
        if not response.is_success:
            raise AssertionError(f"{nsid}: HTTP {response.status_code} {response.text}")
        return response.json() if response.content else {}

    def create_account(self, handle: str, password: str | None = None) -> dict[str, str]:
        """Create an account (``<name>.test``); returns did, handle, password and tokens."""
        password = password or secrets.token_urlsafe(12)
        data = self.xrpc(
            "POST",
            "com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{handle}@example.com", "password": password},
        )
        return {
            "did": data["did"],
            "handle": data["handle"],
            "password": password,
            "accessJwt": data["accessJwt"],
            "refreshJwt": data["refreshJwt"],
        }

    def app_password(self, account: dict[str, str], name: str | None = None) -> str:
        """A new app password of ``account`` (what a person creates in Bluesky's settings)."""
        data = self.xrpc(
            "POST",
            "com.atproto.server.createAppPassword",
            token=account["accessJwt"],
            json={"name": name or f"kairos-{secrets.token_hex(4)}"},
        )
        return data["password"]

    def records(self, did: str, collection: str = "app.bsky.feed.post") -> list[dict[str, Any]]:
        return self.xrpc(
            "GET",
            "com.atproto.repo.listRecords",
            params={"repo": did, "collection": collection, "limit": 100},
        )["records"]

    def tail(self, lines: int = 40) -> str:
        out = []
        if self.dir is not None:
            for path in (self.dir / "stderr.log", self.dir / "pds.log"):
                with contextlib.suppress(OSError):
                    text = path.read_text(errors="replace").splitlines()[-lines:]
                    out.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(out)

    # -- lifecycle ------------------------------------------------------------

    def __enter__(self) -> BlueskyPds:
        self.dir = Path(tempfile.mkdtemp(prefix="bluesky-pds-"))
        try:
            self._start()
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._cleanup()

    def _start(self) -> None:
        assert self.dir is not None
        env = {
            **os.environ,
            "NODE_PATH": str(self.modules),
            "LOG_ENABLED": "true",
            "LOG_LEVEL": "info",
            "LOG_DESTINATION": str(self.dir / "pds.log"),
        }
        cmd = ["node", str(LAUNCHER), str(self.dir / "data")]
        if self.rate_limits:
            cmd.append("--rate-limits")
        with open(self.dir / "stderr.log", "ab") as err:
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.dir,
                env=env,
                stdin=subprocess.PIPE,  # closing it stops the server, even if we die
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                if selector.select(timeout=0.5):
                    line = self._proc.stdout.readline()
                    if not line:
                        break
                    self.info = json.loads(line)
                    if self.info.get("ready"):
                        return
        code = self._proc.poll()
        self._stop()
        raise PdsStartError(f"the PDS did not start (exit code {code}):\n{self.tail()}")

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            stop_group(proc)
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()

    def _cleanup(self) -> None:
        self._stop()
        self._http.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


_install_failure: PdsInstallError | None = None


def pds_modules_or_skip() -> Path:
    """``ensure_pds()``, but skip the test when Node or the packages cannot be had (fail under
    ``CI``: CI installs Node and must run these tests)."""
    global _install_failure
    try:
        if _install_failure is not None:  # don't retry a failed install per test
            raise _install_failure
        return ensure_pds()
    except PdsInstallError as exc:
        _install_failure = exc
        reason = f"the Bluesky PDS (@atproto/pds@{PDS_VERSION}) is not available: {exc}"
        unavailable(reason)


@pytest.fixture(scope="session", name="bluesky_pds")
def bluesky_pds_fixture() -> Iterator[BlueskyPds]:
    """A running PDS shared by the whole test session."""
    with BlueskyPds(pds_modules_or_skip()) as server:
        yield server
