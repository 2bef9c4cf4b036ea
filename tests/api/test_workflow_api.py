"""Workflow actions through the API take the same path as the admin (``calendar_app.workflow``)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from calendar_app.models import ContentItem, Publication, PublicationStatus, Transition
from tests import factories as f


def item_url(world, pk: int, action: str | None = None) -> str:
    url = reverse(
        "api:content-item-detail", kwargs={"workspace_slug": world.workspace.slug, "pk": pk}
    )
    return f"{url}{action}/" if action else url


def test_full_life_cycle(world, client_for):
    editor, approver = client_for("editor"), client_for("approver")
    item = f.ContentItemFactory(
        brand=world["brand"], workspace=world.workspace, channels=[world["channel"]]
    )
    assert (
        editor.post(item_url(world, item.pk, "submit"), {}, format="json").json()["status"]
        == "in_review"
    )
    rejected = approver.post(item_url(world, item.pk, "reject"), {}, format="json")
    assert rejected.status_code == 400 and "note" in rejected.json()["fields"]
    assert (
        approver.post(item_url(world, item.pk, "approve"), {"note": "ok"}, format="json").json()[
            "status"
        ]
        == "approved"
    )
    scheduled = editor.post(
        item_url(world, item.pk, "schedule"), {"scheduled_at": "2030-07-01T09:00:00"}, format="json"
    )
    assert scheduled.status_code == 200, scheduled.content
    assert scheduled.json()["scheduled_at"] == "2030-07-01T07:00:00Z"
    pending = Publication.objects.filter(content_item=item, status=PublicationStatus.PENDING)
    assert pending.count() == 1
    moved = editor.post(
        item_url(world, item.pk, "reschedule"),
        {"scheduled_at": "2030-07-02T10:00:00+00:00"},
        format="json",
    )
    assert moved.json()["scheduled_at"] == "2030-07-02T10:00:00Z"
    assert (
        editor.post(item_url(world, item.pk, "cancel"), {}, format="json").json()["status"]
        == "cancelled"
    )
    actions = list(Transition.objects.filter(content_item=item).values_list("action", flat=True))
    assert actions == ["submit", "approve", "schedule", "reschedule", "cancel"]
    assert Transition.objects.filter(content_item=item).first().actor_label.startswith("token ")


def test_invalid_transition_is_409_with_the_workflow_code(world, client_for):
    response = client_for("approver").post(
        item_url(world, world["content-item"].pk, "approve"), {}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_editing_approved_content_sends_it_back_to_review(world, client_for):
    editor, approver = client_for("editor"), client_for("approver")
    item = world["content-item"]
    editor.post(item_url(world, item.pk, "submit"), {}, format="json")
    approver.post(item_url(world, item.pk, "approve"), {}, format="json")
    edited = editor.patch(item_url(world, item.pk), {"body": "New words"}, format="json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["status"] == "in_review"
    assert edited.json()["version"] == 2


def test_deleting_is_for_drafts_only(world, client_for):
    editor = client_for("editor")
    item = world["content-item"]
    editor.post(item_url(world, item.pk, "submit"), {}, format="json")
    assert editor.delete(item_url(world, item.pk)).status_code == 409
    assert ContentItem.objects.filter(pk=item.pk).exists()


def test_fire_a_template(world, client_for):
    approver = client_for("approver")
    template = world["reactive-template"]
    base = reverse(
        "api:reactive-template-detail",
        kwargs={"workspace_slug": world.workspace.slug, "pk": template.pk},
    )
    refused = approver.post(f"{base}fire/", {"values": {"moment": "dark"}}, format="json")
    assert refused.status_code in (400, 409) and refused.json()["code"] != "not_available"
    assert approver.post(f"{base}approve/", {}, format="json").status_code == 200
    fired = approver.post(
        f"{base}fire/", {"values": {"moment": "the lights went out"}}, format="json"
    )
    assert fired.status_code == 201, fired.content
    assert fired.json()["template"] == template.pk
    assert fired.json()["values"] == {"moment": "the lights went out"}


def test_retry_a_failed_publication(world, client_for):
    publication = world["publication"]
    url = reverse(
        "api:publication-detail",
        kwargs={"workspace_slug": world.workspace.slug, "pk": publication.pk},
    )
    response = client_for("approver").post(f"{url}retry/", {}, format="json")
    assert response.status_code in (200, 409), response.content
    assert response.json().get("code") != "not_available"


def test_event_fits_and_filters(world, client_for):
    client = client_for("viewer")
    url = reverse("api:event-list", kwargs={"workspace_slug": world.workspace.slug})
    library = f.EventFactory(workspace=None, themes=["fashion"])
    rows = client.get(url).json()["results"]
    own = next(r for r in rows if r["id"] == world["event"].pk)
    assert own["fits"] and own["fits"][0]["brand"] == world["brand"].pk
    assert {r["id"] for r in rows} >= {world["event"].pk, library.pk}
    sport = {r["id"] for r in client.get(url, {"theme": "sport"}).json()["results"]}
    assert world["event"].pk in sport and library.pk not in sport
    windowed = client.get(
        url, {"start": "2030-01-01T00:00:00Z", "end": "2030-02-01T00:00:00Z"}
    ).json()
    assert windowed["results"] == []
    override = client_for("editor").post(
        f"{url}{library.pk}/fit/",
        {"brand": world["brand"].pk, "override_score": 90, "override_note": "Launch week"},
        format="json",
    )
    assert override.status_code == 200, override.content
    assert override.json()["effective_score"] == 90
    fitting = {
        r["id"]
        for r in client.get(url, {"brand": world["brand"].pk, "min_fit": 80}).json()["results"]
    }
    assert library.pk in fitting


def test_experiment_results(world, client_for):
    experiment = world["experiment"]
    item, publication = world["content-item"], world["publication"]
    item.experiment = experiment
    item.save(update_fields=["experiment"])
    publication.status, publication.published_at = "published", publication.due_at
    publication.save(update_fields=["status", "published_at"])
    url = reverse(
        "api:experiment-detail",
        kwargs={"workspace_slug": world.workspace.slug, "pk": experiment.pk},
    )
    body = client_for("viewer").get(f"{url}results/").json()
    control = body["counts"]["arms"]["control"]
    assert control["impressions"] == 1000 and control["clicks"] == 20
    assert body["decision"]["action"] in {
        "keep_running",
        "ship",
        "no_difference",
        "worse",
        "below_mde",
        "srm",
    }
    assert body["decision"]["sentence"]
    series = client_for("viewer").get(f"{url}timeseries/", {"bucket": "day"}).json()
    assert series["bucket"] == "day" and isinstance(series["points"], list)
    bad = client_for("viewer").get(f"{url}timeseries/", {"bucket": "week"})
    assert bad.status_code == 400 and "bucket" in bad.json()["fields"]


def _give_every_variant_data(world) -> None:
    """One published post per variant, each with a snapshot of 1,000 impressions."""
    experiment, channel = world["experiment"], world["channel"]
    for variant in experiment.variants.all():
        item = f.ContentItemFactory(
            brand=experiment.brand,
            workspace=world.workspace,
            channels=[channel],
            experiment=experiment,
        )
        now = timezone.now()
        publication = f.PublicationFactory(
            content_item=item,
            channel=channel,
            variant=variant,
            workspace=world.workspace,
            status="published",
            due_at=now,
            published_at=now,
        )
        f.MetricSnapshotFactory(publication=publication, workspace=world.workspace)


def test_experiment_decide_and_promote_need_an_approver(world, client_for):
    experiment = world["experiment"]
    url = reverse(
        "api:experiment-detail",
        kwargs={"workspace_slug": world.workspace.slug, "pk": experiment.pk},
    )
    experiment.variants.filter(key="challenger").update(cta_text="Grab a pack")
    editor, approver = client_for("editor"), client_for("approver")
    started = editor.post(f"{url}start/", {}, format="json")
    assert started.status_code == 200 and started.json()["status"] == "running", started.content
    assert editor.post(f"{url}start/", {}, format="json").status_code == 400  # only a draft starts
    assert editor.post(f"{url}decide/", {}, format="json").status_code == 403
    # no variant has data yet: nothing to decide on and nothing that shows a winner
    refused = approver.post(f"{url}decide/", {}, format="json")
    assert refused.status_code == 400, refused.content
    assert "no data" in " ".join(refused.json()["fields"]["variant"])
    early = approver.post(f"{url}promote/", {"variant": "challenger"}, format="json")
    assert early.status_code == 400 and "no data" in " ".join(early.json()["fields"]["variant"])
    _give_every_variant_data(world)
    decided = approver.post(f"{url}decide/", {}, format="json")
    assert decided.status_code == 200, decided.content
    assert decided.json()["decision"]["action"]
    unknown = approver.post(f"{url}promote/", {"variant": "nope"}, format="json")
    assert unknown.status_code == 400 and "variant" in unknown.json()["fields"]
    promoted = approver.post(f"{url}promote/", {"variant": "challenger"}, format="json")
    assert promoted.status_code == 200, promoted.content
    experiment.brand.refresh_from_db()
    challenger = experiment.variants.get(key="challenger")
    assert experiment.brand.default_cta_text == challenger.cta_text


def test_networks_list_installed_plugins(client_for):
    body = client_for("viewer").get(reverse("api:network-list")).json()
    keys = [n["key"] for n in body["results"]]
    assert "sandbox" in keys
    assert "capabilities" in body["results"][0]


def test_channel_test_connection(world, client_for):
    url = reverse(
        "api:channel-detail",
        kwargs={"workspace_slug": world.workspace.slug, "pk": world["channel"].pk},
    )
    body = client_for("admin").post(f"{url}test-connection/", {}, format="json").json()
    assert set(body) == {"ok", "problems"}
