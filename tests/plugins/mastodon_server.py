"""``mastodon-mock`` on 127.0.0.1: a stateful MOCK of Mastodon's REST API, not Mastodon.

No real Mastodon server installs from the registries this project can reach (it is a
Rails app with PostgreSQL, Redis and Sidekiq). ``mastodon-mock`` (PyPI, a FastAPI app
over SQLite) imitates the REST API closely enough to post, favourite, reblog, upload
media and count interactions, but tests against it are CONTRACT tests: they pin down
what we expect of Mastodon's wire format, they do not prove that Mastodon behaves so.
``tests/plugins/test_mastodon_server.py`` records, endpoint by endpoint, where the mock
and the real API (per docs.joinmastodon.org) agree and where they differ.

mastodon-mock pulls in FastAPI, SQLAlchemy, alembic, uvicorn[standard] and pydantic,
none of which the project declares, so it is installed into a dedicated virtualenv in
a cache directory (``$KAIROS_TEST_CACHE``, else ``~/.cache/kairos-tests``), keyed by
the mock's version and the Python version, created once under a file lock (as
``matrix_server.py`` does for Synapse). A fresh machine installs it on first use
(about 10 s from PyPI).

``MastodonMock`` is a context manager: it writes a config file into a temporary
directory (SQLite in memory, two seeded accounts with fixed tokens, optionally a rate
limit), starts ``python -m mastodon_mock serve`` on a free loopback port in its own
process group, waits until ``/health`` answers and the seeded token is accepted, and
on exit stops it and deletes the directory.

Seeded accounts: ``testuser`` with token ``mock_token`` (the package's own default, see
ENVIRONMENT.md) is the account a plugin posts as; ``fan`` with token ``fan_token`` is a
second local account to favourite, reblog and reply, so the counters can move.

The module imports nothing from Kairos so it can be copied elsewhere as is.

    with MastodonMock() as mock:
        httpx.post(f"{mock.base_url}/api/v1/statuses", data={"status": "hi"},
                   headers={"Authorization": f"Bearer {mock.token}"})
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugins.cached_venv import InstallError, ensure_venv, free_port
from tests.plugins.server_process import stop_group, unavailable

MASTODON_MOCK_VERSION = "0.6.1"
START_TIMEOUT_S = 30.0

MOCK_TOKEN = "mock_token"  # the account a plugin posts as (username ``testuser``)
FAN_TOKEN = "fan_token"  # a second local account (username ``fan``)
SEED_ACCOUNTS: tuple[dict[str, str], ...] = (
    {"username": "testuser", "display_name": "Test User", "access_token": MOCK_TOKEN},
    {"username": "fan", "display_name": "A Fan", "access_token": FAN_TOKEN},
)


class MastodonMockInstallError(InstallError):
    """mastodon-mock could not be installed (typically: no route to PyPI)."""


class MastodonMockStartError(RuntimeError):
    """mastodon-mock was installed but did not come up."""


def ensure_mastodon_mock(cache_dir: Path | None = None) -> Path:
    """The python of the cached virtualenv holding mastodon-mock (see cached_venv)."""
    try:
        return ensure_venv(
            f"mastodon-mock-{MASTODON_MOCK_VERSION}",
            f"mastodon-mock=={MASTODON_MOCK_VERSION}",
            "import mastodon_mock.app, mastodon_mock.__about__ as a; "
            f"assert a.__version__ == {MASTODON_MOCK_VERSION!r}, a.__version__",
            cache_dir,
        )
    except InstallError as exc:
        raise MastodonMockInstallError(str(exc)) from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string literal is a valid TOML basic string


class MastodonMock:
    """A throwaway mastodon-mock server; use as a context manager.

    ``rate_limit=(limit, window_seconds)`` switches on the mock's opt-in per-token
    limiter (it applies to every request of the server, so give it its own instance).
    """

    def __init__(
        self,
        python: Path | None = None,
        *,
        rate_limit: tuple[int, int] | None = None,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        self.python = Path(python) if python is not None else ensure_mastodon_mock()
        self.rate_limit = rate_limit
        self.start_timeout = start_timeout
        self.token = MOCK_TOKEN
        self.fan_token = FAN_TOKEN
        self.dir: Path | None = None
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- public surface -------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("mastodon-mock is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        if self.dir is None:
            raise RuntimeError("mastodon-mock is not started")
        return self.dir / "server.log"

    @property
    def config_path(self) -> Path:
        if self.dir is None:
            raise RuntimeError("mastodon-mock is not started")
        return self.dir / "mastodon_mock.toml"

    @property
    def command(self) -> list[str]:
        """The command line that runs the server (after ``__enter__``)."""
        return [
            str(self.python),
            "-m",
            "mastodon_mock",
            "serve",
            "--config",
            str(self.config_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def reset(self) -> None:
        """Mock-only: drop every table and re-apply the seed (``POST /api/v1/_mock/reset``)."""
        httpx.post(f"{self.base_url}/api/v1/_mock/reset", timeout=30).raise_for_status()

    def add_fault(self, rule: dict[str, Any]) -> str:
        """Mock-only fault injection (``POST /api/v1/_mock/faults``); returns the rule id.

        ``{"match": {"methods": ["POST"], "path": "/api/v1/statuses"},
        "effect": {"type": "ratelimit"|"status"|"latency"|"malformed"|"timeout", ...},
        "count": N}``.
        """
        resp = httpx.post(f"{self.base_url}/api/v1/_mock/faults", json=rule, timeout=30)
        resp.raise_for_status()
        return resp.json()["id"]

    def clear_faults(self) -> None:
        httpx.delete(f"{self.base_url}/api/v1/_mock/faults", timeout=30).raise_for_status()

    # -- lifecycle ------------------------------------------------------------

    def __enter__(self) -> MastodonMock:
        self.dir = Path(tempfile.mkdtemp(prefix="mastodon-mock-"))
        try:
            for attempt in range(3):
                self.port = free_port()
                self._write_config()
                try:
                    self._start_process()
                    break
                except MastodonMockStartError:
                    # The free port may have been taken between probe and bind.
                    if attempt == 2 or "address already in use" not in self._tail().lower():
                        raise
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        self._stop_process()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _write_config(self) -> None:
        assert self.dir is not None
        lines = [
            # Links in responses (status url/uri, media urls) point back at this server.
            f"domain = {_toml_value(f'127.0.0.1:{self.port}')}",
            'url_scheme = "http"',
            f"media_storage_path = {_toml_value(self.dir / 'media')}",
            "",
            "[database]",
            'path = ":memory:"',
            "",
        ]
        if self.rate_limit is not None:
            limit, window = self.rate_limit
            lines += [
                "[ratelimit]",
                "enabled = true",
                f"limit = {int(limit)}",
                f"window_seconds = {int(window)}",
                "",
            ]
        for account in SEED_ACCOUNTS:
            lines.append("[[seed.accounts]]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in account.items()]
            lines.append("")
        self.config_path.write_text("\n".join(lines))

    def _tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
            return "--- server.log ---\n" + "\n".join(text)
        return ""

    def _start_process(self) -> None:
        assert self.dir is not None
        started = time.monotonic()
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(
                self.command,
                cwd=self.dir,  # the mock also reads ./.mastodon_mock.toml / ./pyproject.toml
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, see _stop_process
            )
        deadline = started + self.start_timeout
        with httpx.Client(base_url=self.base_url, timeout=2) as http:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    code = self._proc.returncode
                    self._proc = None
                    raise MastodonMockStartError(
                        f"mastodon-mock exited with {code} during start-up:\n{self._tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if http.get("/health").status_code == 200:
                        # /health is static: also prove the seed (and its token) is in.
                        me = http.get("/api/v1/accounts/verify_credentials", headers=self.headers())
                        if me.status_code == 200:
                            self.startup_seconds = time.monotonic() - started
                            return
                        self._stop_process()
                        raise MastodonMockStartError(
                            f"mastodon-mock is up but rejects {MOCK_TOKEN!r}: "
                            f"{me.status_code} {me.text[:300]}\n{self._tail()}"
                        )
                time.sleep(0.05)
        self._stop_process()
        raise MastodonMockStartError(
            f"mastodon-mock did not answer {self.base_url}/health within "
            f"{self.start_timeout}s:\n{self._tail()}"
        )

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        stop_group(proc)


_install_failure: MastodonMockInstallError | None = None


def mastodon_mock_python_or_skip() -> Path:
    """``ensure_mastodon_mock()``, but skip the test if it cannot be installed.

    With ``CI`` set in the environment the test fails instead: CI must not silently
    lose its Mastodon contract coverage.
    """
    global _install_failure
    try:
        if _install_failure is not None:  # don't retry a failed install per test
            raise _install_failure
        return ensure_mastodon_mock()
    except MastodonMockInstallError as exc:
        _install_failure = exc
        reason = f"mastodon-mock=={MASTODON_MOCK_VERSION} could not be installed: {exc}"
        unavailable(reason)


@pytest.fixture(scope="session", name="mastodon")
def mastodon_fixture() -> Iterator[MastodonMock]:
    """A running mastodon-mock shared by the whole session (see ``MastodonMock``).

    Skips when mastodon-mock cannot be installed, fails instead when ``CI`` is set.
    A start-up failure after a good install is a real error and is raised as is.
    """
    with MastodonMock(mastodon_mock_python_or_skip()) as server:
        yield server
