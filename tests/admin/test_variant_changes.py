"""The admin's variant inline: a change to an arm sends the experiment's approved items back to
review, recorded as the person's, and is a form error while its posts are going out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.models import ContentStatus, Role
from tests.admin.helpers import form_data
from tests.calendar_app.test_approval_covers_what_goes_out import (  # noqa: F401 (fixtures)
    back_in_review,
    experiment,
    scheduled,
)

pytestmark = pytest.mark.django_db


def test_the_admin_inline_sends_it_back_and_refuses_while_publishing(
    scheduled,  # noqa: F811
    experiment,  # noqa: F811
    staff_member,
    login,
) -> None:
    client = login(staff_member(Role.EDITOR))
    url = reverse("admin:calendar_app_experiment_change", args=[experiment.pk])
    data = form_data(client.get(url), "experiment_form")
    index = next(
        key.split("-")[1] for key, value in data.items() if key.endswith("-key") and value == "bold"
    )
    data[f"variants-{index}-cta_url"] = "https://evil.example/"
    answer = client.post(url, data)
    assert answer.status_code == 302, answer.context["inline_admin_formsets"]
    back_in_review(scheduled)
    assert scheduled.transitions.order_by("-pk").first().actor is not None

    scheduled.status = ContentStatus.PUBLISHING
    scheduled.save()
    data[f"variants-{index}-cta_url"] = "https://evil.example/again"
    answer = client.post(url, data)
    assert answer.status_code == 200  # the form again, with the reason
    assert "going out now" in answer.content.decode()
    assert experiment.variants.get(key="bold").cta_url == "https://evil.example/"
