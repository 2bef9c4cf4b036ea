from __future__ import annotations

import pytest

from publishers import (
    Capabilities,
    DuplicateNetworkError,
    InvalidNetworkError,
    Network,
    NetworkRegistry,
    PermanentError,
    PluginLoadError,
    TransientError,
    UnknownNetworkError,
    ValidationFailed,
)
from publishers.errors import MAX_DETAIL, excerpt, redact, truncate
from publishers.values import Problem


def test_errors_have_codes_and_reasons():
    error = TransientError(retry_after=-3, may_have_posted=True)
    assert error.code == "transient" and error.reason and error.retry_after == 0.0
    assert error.may_have_posted
    assert str(PermanentError("Nope.", code="http_404")) == "[http_404] Nope."


def test_detail_is_truncated():
    error = PermanentError("x", detail="a" * 10_000)
    assert len(error.detail) <= MAX_DETAIL
    assert error.detail.endswith("[truncated]")
    assert truncate(b"\xffbytes") == "\ufffdbytes"


def test_reason_and_detail_are_short_sanitised_excerpts():
    page = (
        "<html><head><title>Internal admin</title></head><body>\n"
        "<h1>Status</h1>\x1b[31m\u202eevil\u202c\x00" + "<p>row</p>" * 5000 + "</body></html>"
    )
    error = PermanentError(
        "The network said: \u202egnp.exe\u202c\n\nrefused " + "z" * 900, detail=page
    )
    assert len(error.detail) <= MAX_DETAIL and len(error.reason) <= MAX_DETAIL
    assert error.detail.startswith("Internal admin Status [31mevil row row")
    assert "<" not in error.detail and "\x1b" not in error.detail and "\u202e" not in error.detail
    assert error.reason.startswith("The network said: gnp.exe refused zzz")
    assert excerpt(b"\xff  bytes\t\tand <b>tags</b> ") == "\ufffd bytes and tags"
    assert excerpt("") == "" and excerpt("a < b > c") == "a c"


def test_redact_replaces_secrets_but_not_tiny_values():
    assert redact("token=abcd1234 and a", ["abcd1234", "a"]) == "token=[redacted] and a"


def test_validation_failed_carries_problems():
    problems = [Problem("text_too_long", "Too long.", "body"), Problem("x", "Other.")]
    error = ValidationFailed(problems)
    assert error.problems == tuple(problems)
    assert error.reason == "Too long.; Other."
    assert isinstance(error, PermanentError)


class _Net(Network):
    key = "alpha"
    display_name = "Alpha"
    capabilities = Capabilities()

    def validate(self, post, channel):
        return []

    def publish(self, post, channel, idempotency_key):
        raise NotImplementedError

    def fetch_metrics(self, ref, channel):
        raise NotImplementedError


def test_registry_lookup_and_unknown_key():
    registry = NetworkRegistry()
    registry.add(_Net(), "plugin-a")
    assert registry.get("alpha").key == "alpha"
    assert registry.plugin_of("alpha") == "plugin-a"
    assert "alpha" in registry and len(registry) == 1
    with pytest.raises(UnknownNetworkError) as caught:
        registry.get("mastodon")
    assert caught.value.available == ("alpha",)
    assert "mastodon" in str(caught.value)


def test_registry_duplicate_names_both_plugins():
    registry = NetworkRegistry()
    registry.add(_Net(), "plugin-a")
    with pytest.raises(DuplicateNetworkError) as caught:
        registry.add(_Net(), "plugin-b")
    assert "plugin-a" in str(caught.value) and "plugin-b" in str(caught.value)
    assert caught.value.plugins == ("plugin-a", "plugin-b")


def test_registry_refuses_invalid_networks():
    registry = NetworkRegistry()
    with pytest.raises(InvalidNetworkError, match="is a class"):
        registry.add(_Net, "p")  # type: ignore[arg-type]
    with pytest.raises(InvalidNetworkError, match=r"not a publishers\.Network"):
        registry.add(object(), "p")  # type: ignore[arg-type]

    class BadKey(_Net):
        key = "Bad Key"

    with pytest.raises(InvalidNetworkError, match="key must match"):
        registry.add(BadKey(), "p")

    class ClaimsDelete(_Net):
        capabilities = Capabilities(can_delete=True)

    with pytest.raises(InvalidNetworkError, match="does not implement delete"):
        registry.add(ClaimsDelete(), "p")

    class ClaimsFind(_Net):
        capabilities = Capabilities(can_find_existing=True)

    with pytest.raises(InvalidNetworkError, match="find_existing"):
        registry.add(ClaimsFind(), "p")


def test_half_written_network_cannot_be_instantiated():
    class HalfWritten(Network):
        key = "half"
        display_name = "Half"
        capabilities = Capabilities()

        def validate(self, post, channel):
            return []

    with pytest.raises(TypeError, match="abstract"):
        HalfWritten()  # type: ignore[abstract]


def test_plugin_load_error_message_names_everything():
    error = PluginLoadError("mynet", "boom", distribution="kairos-mynet", entry_point="k.plugin")
    assert "mynet" in str(error) and "kairos-mynet" in str(error) and "k.plugin" in str(error)
