"""The experiment results page: decision first, the numbers, a server-drawn chart, and actions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from calendar_app import experiments as services
from calendar_app.admin.experiments import rate_chart_svg, wilson_interval
from calendar_app.models import ExperimentStatus, MetricSnapshot, PublicationStatus, Role
from tests import factories as f
from tests.admin.helpers import messages_of

T0 = datetime(2027, 3, 1, 12, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def experiment(brand, actor):
    exp = f.ExperimentFactory(brand=brand, workspace=brand.workspace, name="Midnight CTA")
    f.VariantFactory(experiment=exp, key="control", name="Shop now", is_control=True)
    f.VariantFactory(
        experiment=exp,
        key="bold",
        name="Before midnight",
        cta_text="Grab yours before midnight",
        cta_url="https://example.com/midnight",
    )
    services.start_experiment(exp, actor(Role.EDITOR), now=T0)
    exp.refresh_from_db()
    return exp


def _publish(experiment, rates: dict[str, float], per_arm: int, impressions: int, seed: int = 3):
    """Publications on two networks with three cumulative snapshots each, hours apart."""
    rng = np.random.default_rng(seed)
    brand = experiment.brand
    channels = {
        net: f.ChannelFactory(brand=brand, workspace=brand.workspace, network=net)
        for net in ("sandbox", "mastodon")
    }
    snapshots = []
    for key, rate in rates.items():
        variant = experiment.variants.get(key=key)
        for i in range(per_arm):
            channel = channels[("sandbox", "mastodon")[i % 2]]
            item = f.ContentItemFactory(
                brand=brand, workspace=brand.workspace, experiment=experiment, channels=[channel]
            )
            when = T0 + timedelta(hours=i)
            pub = f.PublicationFactory(
                content_item=item,
                workspace=brand.workspace,
                channel=channel,
                variant=variant,
                status=PublicationStatus.PUBLISHED,
                published_at=when,
                due_at=when,
            )
            total = int(rng.binomial(impressions, rate))
            for step in (1, 2, 3):
                snapshots.append(
                    MetricSnapshot(
                        workspace=brand.workspace,
                        publication=pub,
                        collected_at=when + timedelta(hours=step),
                        impressions=impressions * step // 3,
                        clicks=total * step // 3,
                    )
                )
    MetricSnapshot.objects.bulk_create(snapshots)


def _url(experiment) -> str:
    return reverse("admin:calendar_app_experiment_results", args=[experiment.pk])


@pytest.fixture
def client_as(staff_member):
    def make(role: str, ws=None) -> Client:
        client = Client()
        client.force_login(staff_member(role, ws=ws))
        return client

    return make


@pytest.mark.django_db
def test_page_shows_decision_numbers_table_srm_strata_plan_and_chart(experiment, client_as):
    _publish(experiment, {"control": 0.02, "bold": 0.035}, per_arm=12, impressions=6000)
    response = client_as(Role.VIEWER).get(_url(experiment))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="decision"' in html and "Ship Before midnight" in html
    assert "Ship &#x27;bold&#x27;" in html  # the sentence, escaped
    for section in ("numbers", "variants", "srm", "strata", "plan", "chart"):
        assert f'id="{section}"' in html, section
    assert 'data-variant="control"' in html and 'data-variant="bold"' in html
    assert "Chance to beat control" in html and "Expected loss" in html
    assert "Design effect" in html
    # The chart is inline SVG: no script, nothing fetched from elsewhere.
    assert "<svg" in html and "<script" not in html.split("<svg", 1)[1].split("</svg>")[0]
    assert "cdn" not in html.lower()
    assert "Cumulative click-through (%)" in html and "Time (" in html
    # Viewers see the buttons but cannot use them.
    assert "Recording a decision and promoting a winner need the approver role" in html


@pytest.mark.django_db
def test_page_renders_without_any_data(experiment, client_as):
    response = client_as(Role.VIEWER).get(_url(experiment) + "?bucket=day")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Keep running" in html
    assert "No click-through data yet" in html


@pytest.mark.django_db
def test_other_workspace_gets_404_and_link_on_change_page(
    experiment, client_as, other_workspace, superuser
):
    assert client_as(Role.ADMIN, ws=other_workspace).get(_url(experiment)).status_code == 404
    client = Client()
    client.force_login(superuser)
    change = reverse("admin:calendar_app_experiment_change", args=[experiment.pk])
    assert _url(experiment) in client.get(change).content.decode()


@pytest.mark.django_db
def test_record_decision_is_role_checked(experiment, client_as):
    _publish(experiment, {"control": 0.02, "bold": 0.035}, per_arm=12, impressions=6000)
    viewer = client_as(Role.VIEWER)
    response = viewer.post(_url(experiment), {"action": "record_decision"}, follow=True)
    assert any("approver" in m for m in messages_of(response))
    experiment.refresh_from_db()
    assert experiment.decision == "" and experiment.status == ExperimentStatus.RUNNING

    approver = client_as(Role.APPROVER)
    response = approver.post(_url(experiment), {"action": "record_decision"}, follow=True)
    assert response.status_code == 200
    assert any(m.startswith("Decision recorded: Ship") for m in messages_of(response))
    experiment.refresh_from_db()
    assert experiment.decision == "ship" and experiment.decided_variant.key == "bold"
    assert experiment.status == ExperimentStatus.DECIDED


@pytest.mark.django_db
def test_promote_winner_through_the_page(experiment, client_as, brand):
    editor = client_as(Role.EDITOR)
    response = editor.post(
        _url(experiment), {"action": "promote_winner", "variant": "bold"}, follow=True
    )
    assert any("approver" in m for m in messages_of(response))
    approver = client_as(Role.APPROVER)
    response = approver.post(
        _url(experiment), {"action": "promote_winner", "variant": "nope"}, follow=True
    )
    assert any("not a variant" in m for m in messages_of(response))
    response = approver.post(
        _url(experiment), {"action": "promote_winner", "variant": "bold"}, follow=True
    )
    assert any(m.startswith("Refused:") and "no data" in m for m in messages_of(response))
    _publish(experiment, {"control": 0.02, "bold": 0.035}, per_arm=12, impressions=6000)
    response = approver.post(
        _url(experiment), {"action": "promote_winner", "variant": "bold"}, follow=True
    )
    assert any("promoted" in m for m in messages_of(response))
    brand.refresh_from_db()
    experiment.refresh_from_db()
    assert brand.default_cta_text == "Grab yours before midnight"
    assert experiment.promoted_variant.key == "bold"


@pytest.mark.django_db
def test_refusal_from_the_service_is_a_message(brand, client_as):
    draft = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(experiment=draft, key="control", is_control=True)
    f.VariantFactory(experiment=draft, key="b", cta_text="Other")
    response = client_as(Role.APPROVER).post(
        _url(draft), {"action": "promote_winner", "variant": "b"}, follow=True
    )
    assert any(m.startswith("Refused:") and "never ran" in m for m in messages_of(response))


@pytest.mark.django_db
def test_post_needs_csrf_token(experiment, staff_member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_member(Role.APPROVER))
    assert client.post(_url(experiment), {"action": "record_decision"}).status_code == 403
    page = client.get(_url(experiment)).content.decode()
    assert page.count("csrfmiddlewaretoken") >= 2


def test_chart_is_well_formed_svg_with_axes_legend_and_bands():
    series = [
        {
            "at": (T0 + timedelta(hours=h)).isoformat(),
            "variants": {
                "control": {"impressions": 1000 * h, "clicks": 20 * h, "conversions": 0},
                "bold": {"impressions": 1000 * h, "clicks": 31 * h, "conversions": 0},
            },
        }
        for h in range(0, 8)
    ]
    svg = rate_chart_svg(
        series,
        metric="click_through",
        metric_label="click-through rate",
        labels={"control": "control — Shop <now>", "bold": "bold"},
        design_effects={"control": 2.0, "bold": 1.0},
        time_zone="Europe/Paris",
    )
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    groups = root.findall(f"{SVG}g[@class='variant']")
    assert [g.get("data-variant") for g in groups] == ["control", "bold"]
    for g in groups:
        assert g.find(f"{SVG}polygon") is not None and g.find(f"{SVG}polyline") is not None
        assert len(g.findall(f"{SVG}polyline")[0].get("points").split()) == 7  # h=0 has no data
    texts = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Cumulative click-through rate (%)" in texts and "Time (Europe/Paris)" in texts
    assert "control — Shop <now>" in texts  # escaped in the markup, intact once parsed
    assert "band: 95% interval" in texts


def test_chart_band_is_wider_with_a_larger_design_effect():
    narrow = wilson_interval(50, 1000, 0.95)
    wide = wilson_interval(50 / 4, 1000 / 4, 0.95)
    assert narrow and wide and wide[1] - wide[0] > 1.9 * (narrow[1] - narrow[0])
    assert wilson_interval(0, 0, 0.95) is None
    single = [
        {"at": T0.isoformat(), "variants": {"a": {"impressions": 10, "clicks": 0}}},
    ]
    ET.fromstring(str(rate_chart_svg(single, metric="click_through", metric_label="ctr")))


@pytest.mark.django_db
def test_page_renders_when_the_design_is_not_ready(brand, client_as):
    lonely = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(experiment=lonely, key="control", is_control=True)
    response = client_as(Role.VIEWER).get(_url(lonely) + "?bucket=hour")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not ready" in html and 'id="variants"' not in html


@pytest.mark.django_db
def test_an_arm_without_exposures_shows_nothing_computed_and_why(experiment, client_as):
    _publish(experiment, {"control": 0.014}, per_arm=12, impressions=6000)  # bold never shown
    page = client_as(Role.VIEWER).get(_url(experiment)).content.decode()
    assert "Not computed: no exposures yet" in page
    row = page.split('data-variant="bold"')[1].split("</tr>")[0]
    assert "%" not in row and "pp" not in row  # no difference, chance or interval for it
    control = page.split('data-variant="control"')[1].split("</tr>")[0]
    assert "+48" not in control  # no loss measured against the prior's 50% mean
    assert "Expected loss if shipped" in page and 'id="expected-loss-help"' in page


def test_expected_loss_reads_as_a_loss():
    from calendar_app.admin.experiments import expected_loss_text

    assert expected_loss_text(0.0002, 0.014) == "-0.020 pp (-1.4% of its rate)"
    assert expected_loss_text(None, None) == "—"
