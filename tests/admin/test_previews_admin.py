"""The admin shows what each channel will receive where people write, approve and fire."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.models import Fire, Role
from tests import factories as f
from tests.admin.test_actions import TEMPLATES, act

pytestmark = pytest.mark.django_db


def test_an_item_s_page_shows_each_channel_s_text_count_and_problems(
    brand, staff_member, login
) -> None:
    short = f.ChannelFactory(brand=brand, workspace=brand.workspace, handle="@crunch")
    item = f.ContentItemFactory(
        brand=brand,
        workspace=brand.workspace,
        channels=[short],
        body="<script>alert(1)</script> Half-time on {{ channel.handle }}" + " z" * 2600,
    )
    page = login(staff_member(Role.VIEWER)).get(
        reverse("admin:calendar_app_contentitem_change", args=[item.pk])
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Half-time on @crunch" in html  # escaped
    assert "<script>alert(1)" not in html
    assert "would be refused" in html and "too many" in html
    assert "/ 5000 characters" in html


def test_a_template_s_page_shows_placeholders_as_written(brand, staff_member, login) -> None:
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    template = f.ReactiveTemplateFactory(
        brand=brand, workspace=brand.workspace, channels=[channel], body="Out: {{ line }}!"
    )
    page = login(staff_member(Role.VIEWER)).get(
        reverse("admin:calendar_app_reactivetemplate_change", args=[template.pk])
    )
    html = page.content.decode()
    assert "Out: {{ line }}!" in html and "shown as written" in html
    assert "would be refused" not in html


def test_the_fire_page_previews_the_typed_values_without_firing(brand, staff_member, login) -> None:
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    template = f.ReactiveTemplateFactory(
        brand=brand, workspace=brand.workspace, channels=[channel], body="Out: {{ line }}!"
    )
    client = login(staff_member(Role.APPROVER))
    page = act(
        client,
        "fire_template_action",
        [template],
        url=TEMPLATES,
        preview="1",
        value_line="Crunchette",
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "Out: Crunchette!" in html and 'name="value_line"' in html
    assert not Fire.objects.exists()
