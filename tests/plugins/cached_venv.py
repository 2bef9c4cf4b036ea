"""Servers that pin their own dependencies (Synapse, mastodon-mock) live in virtualenvs of their
own, created once and kept in a cache directory (``$KAIROS_TEST_CACHE``, else
``~/.cache/kairos-tests``), keyed by the package's version and the Python version.

A ``.complete`` marker is written only after a successful install and import check, so an
interrupted install is redone; an exclusive ``flock`` serialises concurrent pytest processes.
Imports nothing from Kairos.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

INSTALL_TIMEOUT_S = 900


class InstallError(RuntimeError):
    """A package could not be installed into its virtualenv (typically: no route to PyPI)."""


def default_cache_dir() -> Path:
    env = os.environ.get("KAIROS_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "kairos-tests"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_venv(
    name: str, requirement: str, import_check: str, cache_dir: Path | None = None
) -> Path:
    """Return the python of the virtualenv ``<cache>/<name>-py<X.Y>`` holding ``requirement``
    (installed once), after ``import_check`` (Python source) ran in it successfully."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-py{sys.version_info.major}.{sys.version_info.minor}"
    venv = cache_dir / stem
    marker = venv / ".complete"
    python = venv / "bin" / "python"
    if marker.exists() and python.exists():
        return python
    with open(cache_dir / f"{stem}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if marker.exists() and python.exists():  # another process finished it
            return python
        shutil.rmtree(venv, ignore_errors=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [*pip, "--retries", "2", "--timeout", "30", requirement],
            [str(python), "-c", import_check],
        ]
        for cmd in steps:
            try:
                done = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                shutil.rmtree(venv, ignore_errors=True)
                raise InstallError(f"{cmd[:4]} failed: {exc}") from exc
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                lines = (done.stdout + done.stderr).splitlines()
                lines = [ln for ln in lines if not ln.startswith("WARNING: Location")]
                tail = "\n".join(lines[-15:])
                raise InstallError(
                    f"installing {requirement} failed "
                    f"({' '.join(cmd[:4])}... exited {done.returncode}):\n{tail}"
                )
        marker.write_text(requirement + "\n")
    return python
