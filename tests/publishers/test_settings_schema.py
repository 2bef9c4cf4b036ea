"""settings_problems: a channel's settings and secrets checked against the network's schema."""

from __future__ import annotations

from publishers import Capabilities, Network, SettingField, settings_problems


def test_settings_problems_check_keys_requirements_and_kinds():
    class Shapes(Network):
        key = "shapes"
        display_name = "Shapes"
        capabilities = Capabilities()
        settings_schema = (
            SettingField("url", "URL", kind="url", required=True),
            SettingField("count", "Count", kind="integer"),
            SettingField("ratio", "Ratio", kind="number"),
            SettingField("on", "On", kind="boolean"),
            SettingField("extra", "Extra", kind="json"),
        )
        secret_fields = (SettingField("token", "Token", kind="secret", required=True),)

        def validate(self, post, channel):
            return []

        def publish(self, post, channel, idempotency_key):
            raise NotImplementedError

        def fetch_metrics(self, ref, channel):
            raise NotImplementedError

    network = Shapes()
    good = {"url": "https://x.example", "count": 3, "ratio": 0.5, "on": False, "extra": [1]}
    assert settings_problems(network, good) == []
    assert settings_problems(network, good, {"token": "t"}) == []
    problems = settings_problems(
        network,
        {"count": 1.5, "ratio": float("inf"), "on": "yes", "nope": 1, "url": "x\x00"},
        {"token": 7, "other": "s"},
    )
    assert sorted((p.code, p.field) for p in problems) == [
        ("invalid_setting", "secrets.token"),
        ("invalid_setting", "settings.count"),
        ("invalid_setting", "settings.on"),
        ("invalid_setting", "settings.ratio"),
        ("invalid_setting", "settings.url"),
        ("unknown_setting", "secrets.other"),
        ("unknown_setting", "settings.nope"),
    ]
    assert [p.field for p in settings_problems(network, {}, {})] == [
        "settings.url",
        "secrets.token",
    ]
