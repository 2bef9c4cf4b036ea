from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from publishers import (
    DuplicateNetworkError,
    PluginLoadError,
    PostTransform,
    build_plugin_manager,
    hookimpl,
)


def _install_fake_distribution(root: Path, name: str, entry_points: str, modules: dict) -> None:
    """Write a minimal installed distribution (dist-info with entry points) plus modules."""
    dist = root / f"{name.replace('-', '_')}-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


def test_entry_points_discovered_with_distribution():
    plugins = build_plugin_manager()
    assert {"sandbox", "webhook"} <= set(plugins.networks.keys())
    info = {p.name: p for p in plugins.plugin_info()}
    assert info["sandbox"].distribution == "kairos"
    assert info["sandbox"].version
    assert info["sandbox"].networks == ("sandbox", "sandbox_email")
    assert info["webhook"].module == "plugins.webhook.plugin"
    networks = {n.key: n for n in plugins.network_info()}
    assert networks["webhook"].plugin == "webhook"
    assert networks["webhook"].to_dict()["distribution"] == "kairos"


def test_manager_is_not_built_at_import_time():
    import publishers

    assert not any(
        isinstance(value, publishers.KairosPlugins) for value in vars(publishers).values()
    )


def test_blocked_plugins_are_not_loaded():
    plugins = build_plugin_manager(disabled=["webhook"])
    assert "webhook" not in plugins.networks
    assert "sandbox" in plugins.networks
    assert "webhook" not in [p.name for p in plugins.plugin_info()]


def test_extra_plugin_replaces_entry_point_of_same_name(network_plugin, scripted):
    plugins = build_plugin_manager(extra_plugins=[("sandbox", network_plugin(scripted()))])
    assert "scripted" in plugins.networks and "sandbox" not in plugins.networks


def test_duplicate_network_keys_name_both_plugins(make_plugins, network_plugin, scripted):
    with pytest.raises(DuplicateNetworkError) as caught:
        make_plugins(("first", network_plugin(scripted())), ("second", network_plugin(scripted())))
    message = str(caught.value)
    assert "'first'" in message and "'second'" in message and "'scripted'" in message


def test_import_failure_names_entry_point_and_distribution(tmp_path, monkeypatch):
    _install_fake_distribution(
        tmp_path,
        "kairos-broken",
        "[kairos.publishers]\nbroken = kairos_broken_plugin\n",
        {"kairos_broken_plugin": "import not_a_real_module_xyz\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginLoadError) as caught:
        build_plugin_manager()
    error = caught.value
    assert error.plugin == "broken"
    assert error.distribution == "kairos-broken"
    assert error.entry_point == "kairos_broken_plugin"
    assert "not_a_real_module_xyz" in str(error)


def test_blocked_broken_plugin_is_never_imported(tmp_path, monkeypatch):
    _install_fake_distribution(
        tmp_path,
        "kairos-broken2",
        "[kairos.publishers]\nbroken2 = kairos_broken2_plugin\n",
        {"kairos_broken2_plugin": "raise RuntimeError('imported')\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = build_plugin_manager(disabled=["broken2"])
    assert "sandbox" in plugins.networks


def test_third_party_distribution_is_discovered(tmp_path, monkeypatch):
    _install_fake_distribution(
        tmp_path,
        "kairos-thirdparty",
        "[kairos.publishers]\nthirdparty = kairos_thirdparty_plugin\n",
        {
            "kairos_thirdparty_plugin": """
            from publishers import Capabilities, Network, MetricSnapshot, hookimpl

            class Pigeon(Network):
                key = "pigeon"
                display_name = "Carrier pigeon"
                capabilities = Capabilities(max_text_length=80)

                def validate(self, post, channel):
                    return []

                def publish(self, post, channel, idempotency_key):
                    raise NotImplementedError

                def fetch_metrics(self, ref, channel):
                    return MetricSnapshot()

            @hookimpl
            def register_networks():
                return Pigeon()
            """
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = build_plugin_manager()
    entry = plugins.networks.entry("pigeon")
    assert entry.plugin == "thirdparty"
    info = {p.name: p for p in plugins.plugin_info()}
    assert (info["thirdparty"].distribution, info["thirdparty"].version) == (
        "kairos-thirdparty",
        "1.2.3",
    )


def test_typo_in_hook_name_is_caught_by_check_pending(make_plugins):
    class Typo:
        @hookimpl
        def register_network(self):  # missing "s"
            return []

    with pytest.raises(PluginLoadError) as caught:
        make_plugins(("typo-plugin", Typo()))
    assert caught.value.plugin == "typo-plugin"
    assert "register_network" in str(caught.value)


def test_wrong_hook_argument_is_caught_at_registration(make_plugins):
    class WrongArgs:
        @hookimpl
        def validate_post(self, post, chanel):  # typo in an argument name
            return []

    with pytest.raises(PluginLoadError, match="wrong-args"):
        make_plugins(("wrong-args", WrongArgs()))


def test_failing_registration_names_the_plugin(make_plugins):
    class Crashes:
        @hookimpl
        def register_networks(self):
            raise RuntimeError("no config")

    with pytest.raises(PluginLoadError, match=r"crashy.*no config"):
        make_plugins(("crashy", Crashes()))


def test_transforms_sorted_by_order_then_name(make_plugins):
    def make(name, order):
        return PostTransform(name, lambda post, channel: post, order)

    class One:
        @hookimpl
        def register_post_transforms(self):
            return [make("b", 10), make("z", 5)]

    class Two:
        @hookimpl
        def register_post_transforms(self):
            return [make("a", 10)]

    plugins = make_plugins(("one", One()), ("two", Two()))
    assert [t.name for t in plugins.transforms()] == ["z", "a", "b"]
    assert [t.name for t in plugins.without(["one"]).transforms()] == ["a"]
    assert plugins.without(["one"]) is plugins.without(["one"])


def test_duplicate_transform_names_fail(make_plugins):
    class Plugin:
        def __init__(self):
            self.transform = PostTransform("same", lambda post, channel: post)

        @hookimpl
        def register_post_transforms(self):
            return [self.transform]

    with pytest.raises(PluginLoadError, match="same"):
        make_plugins(("one", Plugin()), ("two", Plugin()))


def test_tracing_logs_hook_calls(make_plugins, caplog, post, channel):
    class Resolver:
        @hookimpl
        def resolve_placeholder(self, name):
            return "v"

    plugins = make_plugins(("resolver", Resolver()), trace=True)
    with caplog.at_level(logging.DEBUG, logger="kairos.plugins.trace"):
        assert plugins.resolve_placeholder(name="x", post=post, channel=channel) == "v"
    assert any("resolve_placeholder" in r.getMessage() for r in caplog.records)
    plugins.close()
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="kairos.plugins.trace"):
        plugins.resolve_placeholder(name="x", post=post, channel=channel)
    assert not caplog.records
