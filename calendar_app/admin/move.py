"""Moving a post on the calendar (drag and drop): a new wall-clock time in the brand's zone, applied
through the workflow so the calendar can never do what the item page may not.

* scheduled: :func:`workflow.reschedule` moves its publications with it;
* draft, in review, approved: :func:`workflow.edit` of ``scheduled_at`` (the time is not part of
  what an approval covers, so an approved post stays approved; if the workflow sends it back to
  review anyway, the answer says so);
* publishing, published, failed: refused, it went out (or is going) at its time;
* cancelled: refused by the workflow ("reopen it first").

The answer is JSON ``{"ok", "message", "status"}`` for the page's script; a refusal is a 4xx with
the workflow's sentence, never a 500.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from calendar_app import workflow
from calendar_app.admin.base import has_role, scope
from calendar_app.admin.base import local_time as show_local
from calendar_app.models import ContentItem, ContentStatus, Role
from calendar_app.timeutils import local_to_utc
from calendar_app.workflow import Actor, WorkflowError

FIXED = {
    ContentStatus.PUBLISHING,
    ContentStatus.PUBLISHED,
    ContentStatus.PARTLY_FAILED,
    ContentStatus.FAILED,
}


def _refused(message: str, status: int = 400, field: str | None = None) -> JsonResponse:
    body = {"ok": False, "message": message}
    if field:
        body["errors"] = {field: [message]}
    return JsonResponse(body, status=status)


def _wall_clock(request: HttpRequest) -> datetime | JsonResponse:
    try:
        day = date.fromisoformat(request.POST.get("date", ""))
    except ValueError:
        return _refused("Say which day to move it to (YYYY-MM-DD).", field="date")
    try:
        at = time.fromisoformat(request.POST.get("time", "") or "09:00")
    except ValueError:
        return _refused("Say at what time (HH:MM).", field="time")
    return datetime.combine(day, at.replace(second=0, microsecond=0, tzinfo=None))


@require_POST
def move_view(request: HttpRequest, object_id: str) -> JsonResponse:
    """``POST date=YYYY-MM-DD time=HH:MM``: move the item to that wall-clock time of its brand."""
    if not object_id.isascii() or not object_id.isdigit():
        raise Http404
    item = (
        scope(request, ContentItem.objects.select_related("brand", "workspace"))
        .filter(pk=int(object_id))
        .first()
    )
    if item is None:
        raise Http404
    if not has_role(request, item.workspace_id, Role.EDITOR):
        return _refused("Moving posts needs the editor role in this workspace.", status=403)
    if item.status in FIXED:
        return _refused(
            f"“{item.title}” is {item.get_status_display().lower()}: it went out at its time "
            "and cannot move. Write a new post for another day.",
            status=409,
        )
    wall = _wall_clock(request)
    if isinstance(wall, JsonResponse):
        return wall
    zone = item.brand.time_zone
    try:
        when = local_to_utc(wall, zone)
    except ValidationError as exc:
        return _refused(" ".join(exc.messages), field="time")
    actor = Actor.for_user(request.user, item.workspace)
    before = item.status
    try:
        with transaction.atomic():
            if item.status == ContentStatus.SCHEDULED:
                item = workflow.reschedule(item, actor, when, note="Moved on the calendar.")
            else:
                item = workflow.edit(item, actor, {"scheduled_at": when})
    except WorkflowError as exc:
        status = 403 if exc.code == "permission_denied" else 409
        return _refused(str(exc), status=status)
    except ValidationError as exc:
        return _refused(" ".join(exc.messages), field="scheduled_at")
    moved = f"“{item.title}” moved to {show_local(item.scheduled_at, zone)} ({zone})."
    if before in {ContentStatus.APPROVED, ContentStatus.SCHEDULED} and item.status == (
        ContentStatus.IN_REVIEW
    ):
        moved += " It changed after approval: it is back in review and needs approval again."
    elif item.status == ContentStatus.SCHEDULED:
        moved += " Still approved and scheduled: the time is not part of what was approved."
    elif item.status == ContentStatus.APPROVED:
        moved += " Still approved: schedule it when ready."
    elif item.status == ContentStatus.IN_REVIEW:
        moved += " Still waiting for approval."
    return JsonResponse({"ok": True, "message": moved, "status": item.status})
