"""Each channel's limits: learned from its server, kept with the channel, used offline by every
check of a post for that channel."""

from __future__ import annotations

import pytest

from calendar_app import workflow
from calendar_app.delivery.facts import refresh_all_facts, refresh_facts
from calendar_app.models import ChannelStatus, Role
from calendar_app.workflow import WorkflowError
from publishers import (
    Capabilities,
    ChannelContext,
    MetricSnapshot,
    Network,
    Post,
    Problem,
    PublishResult,
    TransientError,
    capability_problems,
    hookimpl,
)
from tests import factories as f

pytestmark = pytest.mark.django_db


class Roomy(Network):
    """A network whose servers say how long a post may be (``limit`` in the channel settings
    stands in for the server's answer)."""

    key = "roomy"
    display_name = "Roomy"
    capabilities = Capabilities(max_text_length=100)
    asked: list[str] = []

    def discover(self, channel: ChannelContext) -> dict:
        self.asked.append(channel.id)
        if channel.settings.get("down"):
            raise TransientError("The server is down.")
        return {"max_characters": channel.settings.get("limit", 100)}

    def capabilities_for(self, channel: ChannelContext) -> Capabilities:
        limit = channel.facts.get("max_characters")
        return self.capabilities.replace(max_text_length=limit) if limit else self.capabilities

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        return capability_problems(post, self.capabilities_for(channel))

    def publish(self, post, channel, idempotency_key) -> PublishResult:
        return PublishResult("x")

    def fetch_metrics(self, ref, channel) -> MetricSnapshot:
        return MetricSnapshot()


class RoomyPlugin:
    @hookimpl
    def register_networks(self):
        return [Roomy()]


@pytest.fixture
def roomy(plugins_with):
    plugins_with(("roomy", RoomyPlugin()))
    Roomy.asked = []


def test_a_channel_s_server_limit_is_learned_and_used_when_a_post_is_submitted(
    roomy, brand, actor
) -> None:
    generous = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="roomy")
    generous.settings = {"limit": 5000}
    generous.save()
    item = f.ContentItemFactory(
        brand=brand, workspace=brand.workspace, channels=[generous], body="x" * 3000
    )
    with pytest.raises(WorkflowError, match="allows 100"):
        workflow.submit(item, actor(Role.EDITOR))  # nothing learned yet: the network's default
    assert refresh_facts(generous)
    generous.refresh_from_db()
    assert generous.facts == {"max_characters": 5000} and generous.facts_checked_at
    workflow.submit(item, actor(Role.EDITOR))


def test_a_server_that_cannot_be_asked_keeps_what_was_known(roomy, brand) -> None:
    target = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="roomy")
    target.facts = {"max_characters": 700}
    target.settings = {"down": True}
    target.save()
    assert refresh_facts(target) is False
    target.refresh_from_db()
    assert target.facts == {"max_characters": 700}


def test_the_daily_run_asks_every_connected_channel_once(roomy, brand) -> None:
    on = [f.ChannelFactory(brand=brand, workspace=brand.workspace, network="roomy") for _ in "ab"]
    off = f.ChannelFactory(
        brand=brand, workspace=brand.workspace, network="roomy", status=ChannelStatus.EXPIRED
    )
    refresh_all_facts()
    assert sorted(Roomy.asked) == sorted(str(c.pk) for c in on) and str(off.pk) not in Roomy.asked
