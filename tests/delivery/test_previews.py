"""Previews: the exact text each channel will receive, counted the network's way, before anyone
approves or fires - and a post that takes no call to action goes out without one."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from calendar_app import workflow
from calendar_app.delivery.preflight import SAMPLE_CODE, previews_for, template_previews
from calendar_app.models import ContentStatus, Role
from calendar_app.reactive import approve_template, fire_template
from publishers import Post, text_with_links
from tests import factories as f
from tests.delivery.conftest import channel, sandbox_posts

pytestmark = pytest.mark.django_db

TRACKED = re.compile(r"https://k\.example/r/[A-Za-z0-9_-]{8}")


@pytest.fixture
def tracking(settings):
    settings.KAIROS_TRACKING_BASE_URL = "https://k.example"


@pytest.fixture
def selling_brand(brand):
    brand.default_cta_text = "Book a test drive"
    brand.default_cta_url = "https://cars.example/test-drive"
    brand.save()
    return brand


def delivered_texts(sandbox_dir) -> list[str]:
    return [text_with_links(Post.from_dict(r["post"])) for r in sandbox_posts(sandbox_dir)]


def template_for(brand, actor, **fields):
    channels = fields.pop("channels", None) or [channel(brand), channel(brand)]
    template = f.ReactiveTemplateFactory(
        brand=brand, workspace=brand.workspace, channels=channels, **fields
    )
    return approve_template(template, actor(Role.APPROVER))


def test_a_fire_s_preview_is_exactly_what_each_channel_receives(
    selling_brand, actor, tracking, sandbox_dir, django_capture_on_commit_callbacks
) -> None:
    template = template_for(
        selling_brand,
        actor,
        body="Lights out? {{ line }} still crunches in the dark.",
        links=["https://crunch.example/{{ line }}"],
    )
    values = {"line": "Crunchette"}
    previews = template_previews(template, values)
    assert [p.ok for p in previews] == [True, True]
    with django_capture_on_commit_callbacks(execute=True):
        fire_template(template, actor(Role.APPROVER), values)
    received = sorted(TRACKED.sub("<tracked>", text) for text in delivered_texts(sandbox_dir))
    shown = sorted(
        p.parts[0].text.replace(f"https://k.example/r/{SAMPLE_CODE}", "<tracked>") for p in previews
    )
    assert shown == received
    assert "Lights out? Crunchette still crunches in the dark." in shown[0]
    assert "Book a test drive <tracked>" in shown[0]  # the brand's call to action, tracked
    assert all(p.tracked for p in previews)
    # Same length as the real short link, so the counts are right.
    assert previews[0].parts[0].length == len(delivered_texts(sandbox_dir)[0])


def test_missing_values_are_the_problems_a_person_firing_sees(brand, actor) -> None:
    template = template_for(brand, actor, body="{{ team }} scored in minute {{ minute }}!")
    [first, second] = template_previews(template, {"team": "Lyon"})
    assert first.parts[0].text.startswith("Lyon scored in minute {{ minute }}!")
    assert [(p.code, p.field) for p in first.problems] == [("unknown_placeholder", "body")]
    assert "minute" in first.problems[0].message and not first.ok and not second.ok


def test_a_template_without_a_call_to_action_never_gets_the_brand_s(
    selling_brand, actor, sandbox_dir, django_capture_on_commit_callbacks
) -> None:
    template = template_for(
        selling_brand, actor, body="We are down. We are on it, sorry.", without_cta=True
    )
    assert all("test drive" not in p.parts[0].text for p in template_previews(template))
    with django_capture_on_commit_callbacks(execute=True):
        fire = fire_template(template, actor(Role.APPROVER), {})
    assert fire.content_item.without_cta
    assert delivered_texts(sandbox_dir) == ["We are down. We are on it, sorry."] * 2


def test_an_item_without_a_call_to_action_goes_out_without_one(
    selling_brand, actor, sandbox_dir
) -> None:
    from calendar_app.delivery.dispatcher import dispatch_due
    from tests.delivery.conftest import scheduled_item

    item = scheduled_item(
        selling_brand,
        actor,
        channels=[channel(selling_brand)],
        body="Recall notice.",
        without_cta=True,
    )
    [preview] = previews_for(item)
    assert preview.parts[0].text == "Recall notice."
    dispatch_due()
    assert delivered_texts(sandbox_dir) == ["Recall notice."]


@pytest.mark.parametrize(
    "fields",
    [
        {"cta_text": "Buy now"},
        {"cta_url": "https://shop.example/"},
    ],
)
def test_no_call_to_action_and_a_call_to_action_contradict(brand, fields) -> None:
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, without_cta=True, **fields)
    with pytest.raises(ValidationError) as caught:
        item.full_clean(exclude=["channels"])
    assert "without_cta" in caught.value.message_dict


def test_an_experiment_cannot_go_without_a_call_to_action(brand) -> None:
    experiment = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    template = f.ReactiveTemplateFactory(
        brand=brand, workspace=brand.workspace, without_cta=True, experiment=experiment
    )
    with pytest.raises(ValidationError) as caught:
        template.full_clean(exclude=["channels"])
    assert "experiment" in caught.value.message_dict["without_cta"][0]


def test_dropping_the_call_to_action_of_an_approved_item_needs_a_new_approval(brand, actor) -> None:
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, channels=[channel(brand)])
    workflow.submit(item, actor(Role.EDITOR))
    workflow.approve(item, actor(Role.APPROVER))
    workflow.edit(item, actor(Role.EDITOR), {"without_cta": True})
    item.refresh_from_db()
    assert item.status == ContentStatus.IN_REVIEW


def test_each_variant_and_each_part_of_a_thread_is_previewed(brand) -> None:
    experiment = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(experiment=experiment, key="control", is_control=True, cta_text="Go")
    f.VariantFactory(experiment=experiment, key="bold", cta_text="Go now!")
    item = f.ContentItemFactory(
        brand=brand,
        workspace=brand.workspace,
        channels=[channel(brand)],
        body="First",
        thread=[{"body": "Second", "media": []}],
        experiment=experiment,
    )
    previews = previews_for(item)
    assert [p.variant for p in previews] == ["control", "bold"]
    assert [[part.text.split(" http")[0] for part in p.parts] for p in previews] == [
        ["First\n\nGo", "Second"],
        ["First\n\nGo now!", "Second"],
    ]
    assert "utm_content=bold" in previews[1].parts[0].text  # each arm's own tagged link


def test_lengths_are_counted_as_each_network_counts_them(brand) -> None:
    url = "https://example.com/" + "a" * 80
    body = f"Kick-off 🏈👍🏽 {url}"
    networks = {
        "mastodon": {"instance": "https://mastodon.example"},
        "bluesky": {"handle": "brand.example"},
        "sandbox": {},
    }
    channels = [
        f.ChannelFactory(brand=brand, workspace=brand.workspace, network=key, settings=settings)
        for key, settings in networks.items()
    ]
    item = f.ContentItemFactory(
        brand=brand, workspace=brand.workspace, channels=channels, body=body
    )
    by_network = {p.channel.network: p.parts[0] for p in previews_for(item)}
    mastodon, bluesky, sandbox = (by_network[k] for k in ("mastodon", "bluesky", "sandbox"))
    # Mastodon: every link is 23 characters, whatever its length.
    assert (mastodon.text, mastodon.length, mastodon.limit) == (
        body,
        len("Kick-off 🏈👍🏽 ") + 23,
        500,
    )
    # Bluesky: the link is shown shortened and graphemes are counted (👍🏽 is one).
    assert bluesky.unit == "graphemes" and bluesky.limit == 300
    assert url not in bluesky.text and bluesky.text.startswith("Kick-off 🏈👍🏽 example.com/aaa")
    assert bluesky.length == len("Kick-off ") + 2 + 1 + len(bluesky.text.split(" ")[-1])
    # The sandbox counts code points.
    assert sandbox.length == len(body)


def test_approvals_given_before_without_cta_existed_still_hold(brand, actor) -> None:
    """The hash an approval stored before the field existed is the hash of the same words now."""
    import hashlib

    template = template_for(brand, actor, body="Sorry.")
    old_fields = ("body", "links", "cta_text", "cta_url", "cta_button", "valid_from")
    old_fields += ("valid_until", "cooldown", "max_fires")
    text = "\x1f".join(repr(getattr(template, name)) for name in old_fields)
    assert template.approved_hash == hashlib.sha256(text.encode()).hexdigest()
    template.without_cta = True
    assert not template.is_approved  # setting it is a change the approval did not cover
