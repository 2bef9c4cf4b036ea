"""The documented third-party path, end to end: install the example package next to Kairos and
see ``build_plugin_manager()`` discover its network by entry point, in a fresh interpreter.

The package is built and installed by pip itself, exactly as docs/plugins.md tells a plugin
author to do, but into a throwaway ``--target`` directory that a fresh interpreter puts on its
path, so the shared environment is left untouched. Installed once per test session (~8 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "kairos-example-network"

pytestmark = pytest.mark.e2e

DISCOVER = """
import json
from publishers import build_plugin_manager
plugins = build_plugin_manager()
print(json.dumps({
    "networks": [n.to_dict() for n in plugins.network_info()],
    "plugins": [[p.name, p.distribution, p.version, p.module] for p in plugins.plugin_info()],
}, default=str))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """``pip install`` the example package; return the environment that sees it installed."""
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            str(EXAMPLE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(site.glob("kairos_example_network-0.1.0.dist-info"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    return env


def test_example_package_is_discovered_by_entry_point(installed, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", DISCOVER],
        env=installed,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    networks = {n["key"]: n for n in report["networks"]}
    assert {"pigeon", "sandbox", "webhook"} <= set(networks)
    assert networks["pigeon"]["plugin"] == "pigeon"
    assert networks["pigeon"]["distribution"] == "kairos-example-network"
    assert networks["pigeon"]["version"] == "0.1.0"
    assert networks["pigeon"]["capabilities"]["can_delete"] is True
    assert ["pigeon", "kairos-example-network", "0.1.0", "kairos_example_network.plugin"] in report[
        "plugins"
    ]


def test_example_package_passes_its_own_conformance_tests(installed, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-c",
            str(EXAMPLE / "pyproject.toml"),
            "--rootdir",
            str(EXAMPLE),
            str(EXAMPLE / "tests"),
        ],
        env=installed,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout and "failed" not in done.stdout
