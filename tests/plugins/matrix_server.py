"""A real Matrix homeserver (Synapse) on 127.0.0.1 for network-plugin tests.

Synapse pins its own dependencies, so it is installed into a dedicated virtualenv
kept in a cache directory (``$KAIROS_TEST_CACHE``, else ``~/.cache/kairos-tests``),
keyed by the Synapse version and the Python version, and created once under a file
lock so that concurrent pytest processes don't race.

``Synapse`` is a context manager: it generates a config in a temporary directory
(SQLite, one client listener on a free loopback port, no federation, generous rate
limits), starts the homeserver in its own process group, waits until
``/_matrix/client/versions`` answers, and on exit stops it and deletes the directory.

The module imports nothing from Kairos so it can be copied elsewhere as is.

To share ONE server among several test modules, import ``synapse_fixture`` into a
conftest.py (importing it into each test module gives each module its own
"session" server).

    with Synapse() as hs:
        bot = hs.register("bot", "secret-pw")
        httpx.post(f"{hs.base_url}/_matrix/client/v3/createRoom", json={},
                   headers={"Authorization": f"Bearer {bot['access_token']}"})
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
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

SYNAPSE_VERSION = "1.163.2"
SERVER_NAME = "localhost"
START_TIMEOUT_S = 60.0

# Generous enough that no test is throttled (Synapse's defaults allow e.g. only ten
# messages in a burst, then one every five seconds).
_FAST = {"per_second": 1000, "burst_count": 10000}
RELAXED_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _FAST,
    "rc_registration": _FAST,
    "rc_registration_token_validity": _FAST,
    "rc_login": {"address": _FAST, "account": _FAST, "failed_attempts": _FAST},
    "rc_admin_redaction": _FAST,
    "rc_joins": {"local": _FAST, "remote": _FAST},
    "rc_joins_per_room": _FAST,
    "rc_3pid_validation": _FAST,
    "rc_invites": {"per_room": _FAST, "per_user": _FAST, "per_issuer": _FAST},
    "rc_third_party_invite": _FAST,
    "rc_media_create": _FAST,
    "rc_presence": {"per_user": _FAST},
    "rc_delayed_event_mgmt": _FAST,
    "rc_room_creation": _FAST,
    "rc_reports": _FAST,
    "rc_user_directory": _FAST,
    "rc_profile": _FAST,
}


class SynapseInstallError(InstallError):
    """matrix-synapse could not be installed (typically: no route to PyPI)."""


class SynapseStartError(RuntimeError):
    """The homeserver was installed but did not come up."""


def ensure_synapse(cache_dir: Path | None = None) -> Path:
    """The python of the cached virtualenv holding matrix-synapse (see cached_venv)."""
    try:
        return ensure_venv(
            f"synapse-{SYNAPSE_VERSION}",
            f"matrix-synapse=={SYNAPSE_VERSION}",
            "import synapse.app.homeserver",
            cache_dir,
        )
    except InstallError as exc:
        raise SynapseInstallError(str(exc)) from exc


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# Run with Synapse's own python (which has PyYAML): read the generated config,
# apply the JSON overrides given on stdin, write it back.
_EDIT_CONFIG = """
import json, sys, yaml
path = sys.argv[1]
with open(path) as f:
    config = yaml.safe_load(f)
config.update(json.load(sys.stdin))
with open(path, "w") as f:
    yaml.safe_dump(config, f, sort_keys=False)
"""


class Synapse:
    """A throwaway Synapse homeserver; use as a context manager.

    ``config_overrides`` are deep-merged over this class's defaults (pass e.g. a
    tight ``rc_message`` to provoke 429s, or a small ``max_upload_size``).
    """

    def __init__(
        self,
        python: Path | None = None,
        *,
        config_overrides: dict[str, Any] | None = None,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        self.python = Path(python) if python is not None else ensure_synapse()
        self.config_overrides = config_overrides or {}
        self.start_timeout = start_timeout
        self.server_name = SERVER_NAME
        self.shared_secret = secrets.token_hex(32)
        self.dir: Path | None = None
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- public surface -------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("Synapse is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        if self.dir is None:
            raise RuntimeError("Synapse is not started")
        return self.dir / "homeserver.log"

    @property
    def config_path(self) -> Path:
        if self.dir is None:
            raise RuntimeError("Synapse is not started")
        return self.dir / "homeserver.yaml"

    def register(self, username: str, password: str, admin: bool = False) -> dict[str, str]:
        """Create a user through the shared-secret admin API; log it in.

        Returns ``{"user_id", "access_token", "device_id"}``.
        """
        url = f"{self.base_url}/_synapse/admin/v1/register"
        with httpx.Client(timeout=30) as http:
            nonce_resp = http.get(url)
            nonce_resp.raise_for_status()
            nonce = nonce_resp.json()["nonce"]
            mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
            for part in (nonce, username, password):
                mac.update(part.encode())
                mac.update(b"\x00")
            mac.update(b"admin" if admin else b"notadmin")
            resp = http.post(
                url,
                json={
                    "nonce": nonce,
                    "username": username,
                    "password": password,
                    "admin": admin,
                    "mac": mac.hexdigest(),
                },
            )
        if resp.status_code != 200:
            raise RuntimeError(f"registering {username!r} failed: {resp.status_code} {resp.text}")
        body = resp.json()
        return {k: body[k] for k in ("user_id", "access_token", "device_id")}

    def login(self, username: str, password: str, device_id: str | None = None) -> dict[str, str]:
        """Password login (``m.login.password``); returns user_id/access_token/device_id."""
        payload: dict[str, Any] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": username},
            "password": password,
        }
        if device_id is not None:
            payload["device_id"] = device_id
        resp = httpx.post(f"{self.base_url}/_matrix/client/v3/login", json=payload, timeout=30)
        resp.raise_for_status()
        body = resp.json()
        return {k: body[k] for k in ("user_id", "access_token", "device_id")}

    def restart(self) -> None:
        """Stop and start the same server (same data, same port)."""
        self._stop_process()
        self._start_process()

    # -- lifecycle ------------------------------------------------------------

    def __enter__(self) -> Synapse:
        self.dir = Path(tempfile.mkdtemp(prefix="synapse-"))
        try:
            self._generate_config()
            for attempt in range(3):
                self.port = free_port()
                self._write_config()
                try:
                    self._start_process()
                    break
                except SynapseStartError:
                    # The free port may have been taken between probe and bind.
                    if attempt == 2 or "Address already in use" not in self._tail():
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

    def _generate_config(self) -> None:
        assert self.dir is not None
        cmd = [
            str(self.python),
            "-m",
            "synapse.app.homeserver",
            "--generate-config",
            "--server-name",
            self.server_name,
            "--config-path",
            str(self.config_path),
            "--data-directory",
            str(self.dir),
            "--report-stats=no",
        ]
        done = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise SynapseStartError(f"--generate-config failed:\n{done.stderr}")
        log_config = self.dir / "log.config"
        # JSON is YAML: a plain file handler, flushed on every record.
        log_config.write_text(
            json.dumps(
                {
                    "version": 1,
                    "formatters": {
                        "precise": {
                            "format": "%(asctime)s - %(name)s - %(lineno)d - "
                            "%(levelname)s - %(request)s - %(message)s"
                        }
                    },
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "formatter": "precise",
                            "filename": str(self.log_path),
                            "encoding": "utf8",
                        }
                    },
                    "loggers": {"synapse.storage.SQL": {"level": "INFO"}},
                    "root": {"level": "INFO", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )

    def _config(self) -> dict[str, Any]:
        assert self.dir is not None
        config: dict[str, Any] = {
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(self.dir / "homeserver.db")},
            },
            "log_config": str(self.dir / "log.config"),
            "media_store_path": str(self.dir / "media_store"),
            "pid_file": str(self.dir / "homeserver.pid"),
            "registration_shared_secret": self.shared_secret,
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "enable_media_repo": True,
            "max_upload_size": "10M",
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "bcrypt_rounds": 4,  # registering/logging in costs ~0.2 s per user otherwise
            **RELAXED_RATE_LIMITS,
        }
        return _merge(config, self.config_overrides)

    def _write_config(self) -> None:
        done = subprocess.run(
            [str(self.python), "-c", _EDIT_CONFIG, str(self.config_path)],
            input=json.dumps(self._config()),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise SynapseStartError(f"editing the config failed:\n{done.stderr}")

    def _tail(self, lines: int = 30) -> str:
        assert self.dir is not None
        out = []
        for path in (self.dir / "stdout.log", self.log_path):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(out)

    def _start_process(self) -> None:
        assert self.dir is not None
        with open(self.dir / "stdout.log", "ab") as out:
            self._proc = subprocess.Popen(
                [
                    str(self.python),
                    "-m",
                    "synapse.app.homeserver",
                    "--config-path",
                    str(self.config_path),
                ],
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, see _stop_process
            )
        deadline = time.monotonic() + self.start_timeout
        url = f"{self.base_url}/_matrix/client/versions"
        with httpx.Client(timeout=2) as http:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    code = self._proc.returncode
                    self._proc = None
                    raise SynapseStartError(
                        f"synapse exited with {code} during start-up:\n{self._tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if http.get(url).status_code == 200:
                        return
                time.sleep(0.1)
        self._stop_process()
        raise SynapseStartError(
            f"synapse did not answer {url} within {self.start_timeout}s:\n{self._tail()}"
        )

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        stop_group(proc)


_install_failure: SynapseInstallError | None = None


def synapse_python_or_skip() -> Path:
    """``ensure_synapse()``, but skip the test if it cannot be installed.

    With ``CI`` set in the environment the test fails instead: CI must not
    silently lose its Matrix coverage.
    """
    global _install_failure
    try:
        if _install_failure is not None:  # don't retry a failed install per test
            raise _install_failure
        return ensure_synapse()
    except SynapseInstallError as exc:
        _install_failure = exc
        reason = f"matrix-synapse=={SYNAPSE_VERSION} could not be installed: {exc}"
        unavailable(reason)


@pytest.fixture(scope="session", name="synapse")
def synapse_fixture() -> Iterator[Synapse]:
    """A running Synapse shared by the whole session (see ``Synapse``)."""
    with Synapse(synapse_python_or_skip()) as server:
        yield server
