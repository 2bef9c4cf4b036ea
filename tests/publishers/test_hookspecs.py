"""Documented and tested: datasette's two meta-tests, ported.

Every hookspec must appear in docs/plugins.md as a heading with its exact signature, and must
have a ``test_hook_<name>`` test somewhere under tests/.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from publishers import hookspecs

ROOT = Path(__file__).resolve().parents[2]


def _hookspecs() -> list[str]:
    return sorted(
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "kairos_spec")
    )


def _signature(name: str) -> str:
    params = inspect.signature(getattr(hookspecs, name)).parameters
    return f"{name}({', '.join(params)})"


def test_there_are_hookspecs():
    assert "register_networks" in _hookspecs()
    assert len(_hookspecs()) == 8


@pytest.mark.parametrize("name", _hookspecs())
def test_hookspec_documented_with_exact_signature(name):
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#{2,4} +`?([a-z_]+\([^)]*\))`?", docs, flags=re.MULTILINE)
    assert _signature(name) in headings, f"docs/plugins.md needs a heading `{_signature(name)}`"


@pytest.mark.parametrize("name", _hookspecs())
def test_hookspec_has_a_test(name):
    pattern = re.compile(rf"^\s*def test_hook_{name}\b", re.MULTILINE)
    found = [
        path
        for path in (ROOT / "tests").rglob("test_*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found, f"no test named test_hook_{name} under tests/"


@pytest.mark.parametrize("name", _hookspecs())
def test_hookspec_docstring_states_the_contract(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert "Called" in doc
    assert ":returns:" in doc
    assert ":first result wins:" in doc
    assert ":exceptions:" in doc


def test_publishers_does_not_import_the_host():
    forbidden = re.compile(
        r"^\s*(from|import)\s+(django|rest_framework|calendar_app|config)\b", re.MULTILINE
    )
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "publishers").rglob("*.py")
        if forbidden.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_plugins_import_only_publishers():
    forbidden = re.compile(
        r"^\s*(from|import)\s+(django|rest_framework|calendar_app|config)\b", re.M
    )
    submodule = re.compile(r"^\s*from\s+publishers\.(?!testing)", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "plugins").rglob("*.py")
        if forbidden.search(text := path.read_text(encoding="utf-8")) or submodule.search(text)
    ]
    assert offenders == []
