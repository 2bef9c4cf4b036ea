"""The approval queue: "waiting for me", oldest first.

An item waits for a person when it is in review in a workspace where they may approve, the
brand's separation of duties does not stop them (they neither wrote nor last edited it), and,
when the brand has a chain, the step deciding now counts them among its members and they have
not voted on it yet. These are the rules of :mod:`calendar_app.approvals.services`, evaluated for
a whole page at once: a fixed number of queries, however long the queue.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from calendar_app.admin.base import local_time, workspace_ids
from calendar_app.approvals.models import ApprovalPolicy, ApprovalStep, StepRule, StepVote
from calendar_app.models import ContentItem, ContentStatus, Membership, Role, Transition

#: The queue shows this many items; a team with more has a bigger problem than a long page.
QUEUE_LIMIT = 200


@dataclass
class Waiting:
    item: ContentItem
    since: datetime | None
    step: str  # "" without a chain
    url: str
    when: str

    @property
    def age(self) -> str:
        if self.since is None:
            return "—"
        hours = (timezone.now() - self.since).total_seconds() / 3600
        return f"{hours / 24:.0f} d" if hours >= 48 else f"{hours:.0f} h"


def waiting_for(request: HttpRequest) -> list[Waiting]:
    """The items waiting for ``request.user``'s decision, oldest wait first."""
    user = request.user
    since = Subquery(
        Transition.objects.filter(
            content_item=OuterRef("pk"),
            version=OuterRef("version"),
            action__in=["submit", "edit", "approve_step"],
        )
        .order_by("-at")
        .values("at")[:1]
    )
    items = ContentItem.objects.filter(status=ContentStatus.IN_REVIEW)
    if not user.is_superuser:
        items = items.filter(workspace__in=workspace_ids(request, Role.APPROVER))
    items = list(
        items.select_related("brand").annotate(since=since).order_by("since", "pk")[:QUEUE_LIMIT]
    )
    brand_ids = {i.brand_id for i in items}
    separating = set(
        ApprovalPolicy.objects.filter(brand_id__in=brand_ids, separate_duties=True).values_list(
            "brand_id", flat=True
        )
    )
    steps: dict[int, list[ApprovalStep]] = defaultdict(list)
    for step in (
        ApprovalStep.objects.filter(brand_id__in=brand_ids)
        .prefetch_related("members")
        .order_by("order", "id")
    ):
        steps[step.brand_id].append(step)
    member_ids = {u.pk for chain in steps.values() for s in chain for u in s.members.all()}
    still_members = set(
        Membership.objects.filter(
            workspace_id__in={i.workspace_id for i in items}, user_id__in=member_ids
        ).values_list("workspace_id", "user_id")
    )
    votes: dict[tuple[int, int], list[StepVote]] = defaultdict(list)
    for vote in StepVote.objects.filter(content_item__in=items):
        votes[(vote.content_item_id, vote.version)].append(vote)

    found = []
    for item in items:
        if item.brand_id in separating and user.pk in {item.created_by_id, item.last_edited_by_id}:
            continue
        step_name = ""
        chain = steps.get(item.brand_id, [])
        mine = votes.get((item.pk, item.version), [])
        for step in chain:
            deciders = {
                u.pk for u in step.members.all() if (item.workspace_id, u.pk) in still_members
            }
            on_step = [v for v in mine if v.step_id == step.pk]
            voters = {v.decided_by_id for v in on_step}
            if any(v.via_link_id for v in on_step):
                continue
            done = (
                bool(deciders) and deciders <= voters
                if step.rule == StepRule.ALL
                else bool(voters & deciders)
            )
            if not done:
                step_name = step.name if user.pk in deciders and user.pk not in voters else None
                break
        if step_name is None:
            continue  # another step (or another person) decides now
        found.append(
            Waiting(
                item=item,
                since=item.since,
                step=step_name,
                url=reverse("admin:calendar_app_contentitem_change", args=[item.pk]),
                when=local_time(item.scheduled_at, item.brand.time_zone),
            )
        )
    return found


def approval_queue_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    rows = waiting_for(request)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Waiting for me",
        "opts": model_admin.model._meta,
        "rows": rows,
        "limit": QUEUE_LIMIT,
    }
    return TemplateResponse(request, "admin/calendar_app/contentitem/approval_queue.html", context)
