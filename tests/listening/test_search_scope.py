"""A Mastodon channel connected before Kairos asked for ``read:search``: a watch's word search is
refused by the instance, and the inbox and the watch say "reconnect it to allow search" - no
crash, no silent quiet (CONTRACT server: tests/plugins/mastodon_search_server.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.listening.collect import collect_channel
from calendar_app.listening.models import StreamCursor
from calendar_app.models import Role
from calendar_app.plugins_runtime import reset_plugins
from plugins.mastodon.network import MastodonNetwork
from publishers import PermanentError
from tests import factories as f
from tests.plugins.mastodon_search_server import NO_SEARCH_TOKEN, TOKEN, SearchInstance

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _setup(settings, monkeypatch):
    settings.ROOT_URLCONF = "tests.admin.urls"
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "mastodon")
    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture
def instance():
    with SearchInstance() as server:
        yield server


def test_the_plugin_says_to_reconnect_when_the_token_cannot_search(instance) -> None:
    from publishers import ChannelContext

    channel = ChannelContext(
        id="old",
        network="mastodon",
        settings={"instance": instance.url},
        secrets={"access_token": NO_SEARCH_TOKEN},
    )
    with pytest.raises(PermanentError) as refused:
        MastodonNetwork().search_posts(channel, ("acme",), "")
    assert refused.value.code == "search_not_allowed"
    assert "reconnect it to allow search" in refused.value.reason


def test_a_watch_on_an_old_channel_shows_reconnect_to_allow_search(
    instance, workspace, staff_member, login
) -> None:
    brand = f.BrandFactory(workspace=workspace)
    watch = f.WatchFactory(brand=brand, workspace=workspace, name="Brand name", terms=["acme"])
    old = f.ChannelFactory(
        brand=brand,
        network="mastodon",
        handle="@brand",
        settings={"instance": instance.url},
        secrets={"access_token": NO_SEARCH_TOKEN},
    )
    instance.say("acme is great")

    result = collect_channel(old)  # never raises for a network's sake
    search = next(s for s in result.streams if s.stream == f"search:{watch.pk}")
    assert search.error == "search_not_allowed" and search.stored == 0
    row = StreamCursor.objects.get(channel=old, stream=f"search:{watch.pk}")
    assert "reconnect it to allow search" in row.last_error and row.cursor == ""

    client = login(staff_member(Role.VIEWER))
    inbox = client.get(reverse("admin:calendar_app_message_changelist")).content.decode()
    assert "reconnect it to allow search" in inbox and "Brand name" in inbox
    watches = client.get(reverse("admin:calendar_app_watch_changelist")).content.decode()
    assert "reconnect it to allow search" in watches

    # Reconnected (a token with read:search): the next round reads and the notice goes.
    old.secrets = {"access_token": TOKEN}
    old.save()
    collect_channel(old)
    row.refresh_from_db()
    assert row.last_error == "" and row.cursor
    inbox = client.get(reverse("admin:calendar_app_message_changelist")).content.decode()
    assert "reconnect it to allow search" not in inbox


def test_another_workspace_does_not_see_the_notice(
    instance, workspace, other_workspace, staff_member, login
) -> None:
    brand = f.BrandFactory(workspace=workspace)
    f.WatchFactory(brand=brand, workspace=workspace, terms=["acme"])
    old = f.ChannelFactory(
        brand=brand,
        network="mastodon",
        handle="@brand",
        settings={"instance": instance.url},
        secrets={"access_token": NO_SEARCH_TOKEN},
    )
    collect_channel(old)
    outsider = login(staff_member(Role.ADMIN, ws=other_workspace))
    inbox = outsider.get(reverse("admin:calendar_app_message_changelist")).content.decode()
    assert "reconnect it to allow search" not in inbox


def test_the_watch_list_reads_failing_searches_only_for_failing_watches(
    workspace, staff_member, login
) -> None:
    """A column per row must not cost a query per row: healthy watches read "ok" from the list
    query itself; only a failing one reads which channel fails and why."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    brand = f.BrandFactory(workspace=workspace)
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    client = login(staff_member(Role.VIEWER))
    url = reverse("admin:calendar_app_watch_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    f.WatchFactory(brand=brand, workspace=workspace)
    few = queries()
    for _ in range(10):
        f.WatchFactory(brand=brand, workspace=workspace)
    assert queries() == few

    failing = f.WatchFactory(brand=brand, workspace=workspace, name="Failing")
    StreamCursor.objects.create(
        workspace=workspace,
        channel=channel,
        stream=f"search:{failing.pk}",
        last_error="search_not_allowed: reconnect it to allow search",
    )
    page = client.get(url).content.decode()
    assert page.count(">ok<") == 11 and "reconnect it to allow search" in page
    assert queries() == few + 1
