"""Connections are started through the API: its token clients serve here too. The generic
flow's tests share a real Authlib authorisation server on 127.0.0.1 and a network plugin that
connects through it."""

import pytest

from calendar_app.plugins_runtime import reset_plugins, use_plugins
from publishers import build_plugin_manager
from tests.api.conftest import client_for
from tests.connect.oauth_network import KEY, Plugin
from tests.connect.oauth_server import OAuthServer

__all__ = ["client_for"]


@pytest.fixture
def server():
    with OAuthServer() as running:
        yield running


@pytest.fixture
def demo_network(server, monkeypatch, settings):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", KEY)
    monkeypatch.setenv("KAIROS_OAUTH_OAUTHDEMO_CLIENT_ID", server.client.client_id)
    monkeypatch.setenv("KAIROS_OAUTH_OAUTHDEMO_CLIENT_SECRET", server.client.client_secret)
    settings.KAIROS_PUBLIC_BASE_URL = "https://kairos.example"
    plugin = Plugin(server.base_url)
    use_plugins(build_plugin_manager(load_entrypoints=False, extra_plugins=[("demo", plugin)]))
    yield plugin.network
    reset_plugins()
