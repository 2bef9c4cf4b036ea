"""Firing reactive templates: every guardrail, and delivery at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from calendar_app.models import ContentStatus, PublicationStatus, Role
from calendar_app.reactive import FireRefused, approve_template, fire_template
from tests import factories as f
from tests.delivery.conftest import sandbox_posts

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(brand, actor):
    channels = [f.ChannelFactory(brand=brand, workspace=brand.workspace) for _ in range(3)]
    template = f.ReactiveTemplateFactory(
        brand=brand,
        workspace=brand.workspace,
        body="Lights out? {{ line }} still crunches in the dark.",
        channels=channels,
    )
    return approve_template(template, actor(Role.APPROVER))


def test_fire_delivers_to_every_channel_at_once_and_records_timing(
    template, actor, sandbox_dir, django_capture_on_commit_callbacks
) -> None:
    approver = actor(Role.APPROVER)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        fire = fire_template(template, approver, {"line": "Crunchette"})
    assert len(callbacks) == 1  # enqueued once the fire is committed, not before
    item = fire.content_item
    assert item.body == "Lights out? Crunchette still crunches in the dark."
    assert item.lateness_policy == "skip"
    statuses = set(item.publications.values_list("status", flat=True))
    assert statuses == {PublicationStatus.PUBLISHED}
    item.refresh_from_db()
    assert item.status == ContentStatus.PUBLISHED
    fire.refresh_from_db()
    assert fire.fired_by == approver.user
    assert fire.values == {"line": "Crunchette"}
    assert fire.first_delivered_at >= fire.fired_at
    assert fire.last_delivered_at >= fire.first_delivered_at
    assert len(sandbox_posts(sandbox_dir)) == 3
    assert item.transitions.first().action == "fire"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_only_approvers_fire(template, actor, role) -> None:
    with pytest.raises(FireRefused) as info:
        fire_template(template, actor(role), {"line": "x"})
    assert info.value.code == "permission_denied"
    assert not template.fires.exists()


def test_changed_template_needs_approval_again(template, actor) -> None:
    template.body = "Changed after approval: {{ line }}"
    template.save()
    with pytest.raises(FireRefused) as info:
        fire_template(template, actor(Role.APPROVER), {"line": "x"})
    assert info.value.code == "not_approved"


def test_validity_window(template, actor) -> None:
    now = timezone.now()
    template.valid_from, template.valid_until = now + timedelta(hours=1), now + timedelta(hours=3)
    template.save()
    approve_template(template, actor(Role.APPROVER))
    with pytest.raises(FireRefused) as info:
        fire_template(template, actor(Role.APPROVER), {"line": "x"})
    assert info.value.code == "not_yet_valid"
    with pytest.raises(FireRefused) as info:
        fire_template(template, actor(Role.APPROVER), {"line": "x"}, now=now + timedelta(hours=4))
    assert info.value.code == "expired"
    assert fire_template(
        template, actor(Role.APPROVER), {"line": "x"}, now=now + timedelta(hours=2)
    )


def test_cooldown_and_maximum_fires(template, actor) -> None:
    approver = actor(Role.APPROVER)
    now = timezone.now()
    fire_template(template, approver, {"line": "one"}, now=now)
    with pytest.raises(FireRefused) as info:
        fire_template(template, approver, {"line": "two"}, now=now + timedelta(minutes=1))
    assert info.value.code == "cooling_down"
    fire_template(template, approver, {"line": "two"}, now=now + timedelta(minutes=6))
    fire_template(template, approver, {"line": "three"}, now=now + timedelta(minutes=12))
    with pytest.raises(FireRefused) as info:
        fire_template(template, approver, {"line": "four"}, now=now + timedelta(minutes=30))
    assert info.value.code == "max_fires_reached"
    assert template.fires.count() == 3


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({}, "missing_values"),
        ({"line": ["not", "text"]}, "invalid_values"),
        ({"line": "x" * 501}, "invalid_values"),
        ("line=x", "invalid_values"),
    ],
)
def test_bad_values_are_refused_with_the_field(template, actor, values, code) -> None:
    with pytest.raises(FireRefused) as info:
        fire_template(template, actor(Role.APPROVER), values)
    assert info.value.code == code
    assert info.value.field == "values"
    assert not template.fires.exists()


def test_hostile_values_are_text_not_code(template, actor, sandbox_dir) -> None:
    hostile = "{{ __import__('os').system('id') }} <script>alert(1)</script>"
    fire = fire_template(template, actor(Role.APPROVER), {"line": hostile})
    assert hostile in fire.content_item.body


def test_channel_subset_must_belong_to_the_template(template, actor, brand) -> None:
    stranger = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    with pytest.raises(FireRefused) as info:
        fire_template(template, actor(Role.APPROVER), {"line": "x"}, channel_ids=[stranger.pk])
    assert info.value.field == "channels"
    one = template.channels.first()
    fire = fire_template(template, actor(Role.APPROVER), {"line": "x"}, channel_ids=[one.pk])
    assert list(fire.content_item.publications.values_list("channel_id", flat=True)) == [one.pk]


def test_fire_command(template, member, capsys) -> None:
    user = member(Role.APPROVER)
    call_command("fire_template", str(template.pk), "--as", user.username, "--value", "line=Crunch")
    assert "Fired" in capsys.readouterr().out
    with pytest.raises(CommandError, match="Cooling down"):
        call_command(
            "fire_template", str(template.pk), "--as", user.username, "--value", "line=Again"
        )
    with pytest.raises(CommandError, match="NAME=TEXT"):
        call_command("fire_template", str(template.pk), "--as", user.username, "--value", "nope")


def test_a_channel_at_its_daily_cap_refuses_the_fire_before_anything_is_written(
    template, actor, sandbox_dir
) -> None:
    """The network would refuse the reaction seconds later, a failed post mid-moment: the fire
    is refused at once, on ``channels``, naming the channel and when it has room again."""
    approver = actor(Role.APPROVER)
    capped, *others = list(template.channels.order_by("pk"))
    capped.daily_post_cap = 1
    capped.save()
    first = fire_template(template, approver, {"line": "First"})
    later = first.fired_at + timedelta(minutes=10)  # past the cool-down

    with pytest.raises(FireRefused) as refused:
        fire_template(template, approver, {"line": "Second"}, now=later)
    assert refused.value.code == "daily_cap_exceeded" and refused.value.field == "channels"
    assert capped.handle in str(refused.value)
    fits = first.fired_at + timedelta(hours=24)
    assert f"{fits:%Y-%m-%d %H:%M} UTC" in str(refused.value)
    assert template.fires.count() == 1  # nothing half-written

    fired = fire_template(
        template, approver, {"line": "Second"}, now=later, channel_ids=[c.pk for c in others]
    )
    assert set(fired.content_item.publications.values_list("channel_id", flat=True)) == {
        c.pk for c in others
    }
