"""The evergreen refill runs on its own (``kairos.evergreen_refill``): every brand with active
evergreen items gets its repeats, as the system, one brand's refusal never stops the others, and
a quiet run logs nothing."""

from __future__ import annotations

import logging
from datetime import time, timedelta

import pytest
from django_q.models import Schedule

from calendar_app.models import ContentItem, ContentStatus, EvergreenItem, Role, Transition
from calendar_app.recurring import services, tasks
from calendar_app.schedules import sync_schedules
from tests import factories as f

pytestmark = pytest.mark.django_db


def evergreen_brand(workspace, admin, *, active: bool = True, title: str = "Our story"):
    brand = f.BrandFactory(workspace=workspace)
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    for day in range(7):
        f.PostingSlotFactory(brand=brand, weekday=day, local_time=time(12, 0))
    source = f.approved_item(brand, admin, channels=[channel], title=title)
    EvergreenItem.objects.create(
        workspace=workspace, content_item=source, min_gap=timedelta(days=30), active=active
    )
    return brand, source


def test_the_refill_is_a_named_hourly_schedule() -> None:
    sync_schedules()
    schedule = Schedule.objects.get(name="kairos.evergreen_refill")
    assert schedule.func == "calendar_app.recurring.tasks.refill_all_evergreen"
    assert schedule.schedule_type == Schedule.HOURLY


def test_every_brand_is_refilled_as_the_system_and_a_second_run_adds_nothing(
    workspace, actor, caplog
) -> None:
    admin = actor(Role.ADMIN)
    first, _ = evergreen_brand(workspace, admin)
    second, _ = evergreen_brand(workspace, admin, title="Our values")
    paused, _ = evergreen_brand(workspace, admin, active=False, title="Paused")
    with caplog.at_level(logging.INFO, logger="kairos.evergreen"):
        assert tasks.refill_all_evergreen() == 2
    repeats = ContentItem.objects.filter(status=ContentStatus.SCHEDULED)
    assert sorted(repeats.values_list("brand_id", flat=True)) == sorted([first.pk, second.pk])
    assert not repeats.filter(brand=paused).exists()
    schedule = Transition.objects.get(content_item=repeats.first(), action="schedule")
    assert schedule.actor_label == "evergreen refill"
    assert len([r for r in caplog.records if r.name == "kairos.evergreen"]) == 2
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kairos.evergreen"):
        assert tasks.refill_all_evergreen() == 0  # the 30-day gap holds
    assert not [r for r in caplog.records if r.name == "kairos.evergreen"]  # quiet: no line


def test_one_brand_refused_does_not_stop_the_others(workspace, actor, monkeypatch, caplog) -> None:
    admin = actor(Role.ADMIN)
    broken, _ = evergreen_brand(workspace, admin)
    fine, _ = evergreen_brand(workspace, admin, title="Fine")
    real = services.refill_evergreen

    def refuse_one(brand, who, **kwargs):
        if brand.pk == broken.pk:
            raise services.SeriesError("No slot left.", code="invalid")
        return real(brand, who, **kwargs)

    monkeypatch.setattr(services, "refill_evergreen", refuse_one)
    with caplog.at_level(logging.WARNING, logger="kairos.evergreen"):
        assert tasks.refill_all_evergreen() == 1
    assert ContentItem.objects.filter(brand=fine, status=ContentStatus.SCHEDULED).count() == 1
    assert any(f"brand {broken.pk} refused" in r.getMessage() for r in caplog.records)
