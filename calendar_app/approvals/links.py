"""Signed approval links: a named person without an account (the client) decides one step of
one exact version, at ``/approve/<token>/``.

* The token is 32 random bytes (``secrets.token_urlsafe``); only its SHA-256 is stored, like the
  calendar feeds' tokens, so reading the database gives nobody a working link.
* ``GET`` shows the version to decide on, as each channel will show it, and changes nothing:
  mail scanners and link previews fetch every URL in a message.
* ``POST`` (with the page's CSRF token) approves or rejects through
  :func:`calendar_app.workflow.approve` / ``reject``, like any approval; the audit records name
  ``external: <name> <email>`` and the vote names the link.
* A link works once, until it expires (72 hours by default) or an editor revokes it, for the
  version and step it was made for. An unknown token answers 404; a used, revoked or expired
  one 410; one whose item changed (edited, decided, moved on to another step) 409 - each a page
  saying so, nothing changed.
* Kairos can email the link to its person when it is made (the token exists only then); the
  message names the post, the step and when the link expires.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from calendar_app import workflow
from calendar_app.approvals import services
from calendar_app.approvals.models import ApprovalLink, hash_link_token
from calendar_app.models import ContentItem, ContentStatus, Role
from calendar_app.workflow import Actor, WorkflowError

DEFAULT_TTL = timedelta(hours=72)
MAX_TTL = timedelta(days=30)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
CREATE_ROLE = Role.EDITOR


class LinkRefused(Exception):
    """A link that cannot be used (now); ``status`` is the HTTP answer, ``code`` is stable."""

    def __init__(self, code: str, status: int, title: str, reason: str):
        self.code = code
        self.status = status
        self.title = title
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class NewLink:
    link: ApprovalLink
    token: str  # shown once: only its hash is stored

    @property
    def path(self) -> str:
        from django.urls import reverse

        return reverse("approval-link", kwargs={"token": self.token})


@transaction.atomic
def create_link(
    item: ContentItem, actor: Actor, name: str, email: str, ttl: timedelta = DEFAULT_TTL
) -> NewLink:
    """A link for ``name <email>`` to decide the item's current version at its current step.

    :raises WorkflowError: the item is not in review (``invalid_transition``), the actor is not
        an editor (``permission_denied``), or ``ttl`` is out of bounds (``ttl``).
    """
    item = ContentItem.objects.select_for_update().get(pk=item.pk)
    if not actor.may(CREATE_ROLE):
        raise WorkflowError(
            action="send an approval link for",
            item=item,
            code="permission_denied",
            reason=f"it needs the {CREATE_ROLE} role; {actor.label} has {actor.role or 'none'}.",
        )
    if item.status != ContentStatus.IN_REVIEW:
        raise WorkflowError(
            action="send an approval link for",
            item=item,
            code="invalid_transition",
            reason="only an item in review can be approved; submit it first.",
        )
    if not timedelta(minutes=5) <= ttl <= MAX_TTL:
        raise WorkflowError(
            action="send an approval link for",
            item=item,
            code="invalid_ttl",
            field="expires_in",
            reason="a link lasts between 5 minutes and 30 days.",
        )
    state = services.current_step(item)
    token = secrets.token_urlsafe(32)
    link = ApprovalLink.objects.create(
        workspace_id=item.workspace_id,
        content_item=item,
        version=item.version,
        step=state.step if state else None,
        name=name,
        email=email,
        token_hash=hash_link_token(token),
        prefix=token[:8],
        expires_at=timezone.now() + ttl,
        created_by=actor.user,
        created_by_label=actor.label[:200],
    )
    return NewLink(link=link, token=token)


def link_status(link: ApprovalLink) -> str:
    """``used``, ``revoked``, ``expired`` or ``open`` (shown with the expiry in API and admin)."""
    if link.used_at is not None:
        return "used"
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if link.expires_at <= timezone.now() else "open"


@transaction.atomic
def revoke_link(link: ApprovalLink, actor: Actor) -> ApprovalLink:
    """Withdraw a link so it no longer decides anything (sent to the wrong person, say).

    :raises LinkRefused: ``link_used`` (decided already: nothing to withdraw) or
        ``link_revoked`` (withdrawn already); ``permission_denied`` below the editor role.
    """
    link = ApprovalLink.objects.select_for_update().get(pk=link.pk)
    if not actor.may(CREATE_ROLE):
        raise LinkRefused(
            "permission_denied",
            403,
            "Not allowed",
            f"Revoking a link needs the {CREATE_ROLE} role; {actor.label} has "
            f"{actor.role or 'none'}.",
        )
    if link.used_at is not None:
        raise LinkRefused(
            "link_used",
            409,
            "Already decided",
            f"This link was used on {link.used_at:%Y-%m-%d %H:%M} UTC: its decision stands.",
        )
    if link.revoked_at is not None:
        raise LinkRefused(
            "link_revoked",
            409,
            "Already withdrawn",
            f"This link was revoked on {link.revoked_at:%Y-%m-%d %H:%M} UTC by "
            f"{link.revoked_by_label}.",
        )
    link.revoked_at = timezone.now()
    link.revoked_by_label = actor.label[:200]
    link.save(update_fields=["revoked_at", "revoked_by_label", "updated_at"])
    return link


def email_link(new: NewLink, url: str) -> bool:
    """Email the link to its person now (the token exists only at creation). A mail outage is
    logged and leaves the link valid, to be copied from the answer; ``emailed_at`` says whether
    the message left.

    :returns: True when the mail server took the message.
    """
    import logging

    from django.core.mail import send_mail

    link = new.link
    item = link.content_item
    step = f" (step “{link.step.name}”)" if link.step_id else ""
    subject = f"[Kairos] Please approve: {item.title}"[:200]
    body = (
        f"Hello {link.name},\n\n"
        f"{link.created_by_label} asks you to approve or reject “{item.title}” for "
        f"{item.brand.name}{step}. The page shows exactly what each network will receive.\n\n"
        f"{url}\n\n"
        f"The link works once and expires on {link.expires_at:%Y-%m-%d %H:%M} UTC. If you did "
        "not expect it, ignore this message."
    )
    try:
        send_mail(subject, body, None, [link.email])
    except Exception:
        logging.getLogger("kairos.approvals").exception("could not email link %s", link.pk)
        return False
    link.emailed_at = timezone.now()
    link.save(update_fields=["emailed_at", "updated_at"])
    return True


def usable(link: ApprovalLink | None, item: ContentItem | None = None) -> ApprovalLink:
    """The link if it can decide now; else :class:`LinkRefused` saying why."""
    if link is None:
        raise LinkRefused(
            "unknown_link", 404, "Link not recognised", "This approval link is not valid."
        )
    if link.used_at is not None:
        raise LinkRefused(
            "link_used",
            410,
            "Already decided",
            f"This link was used on {link.used_at:%Y-%m-%d %H:%M} UTC; it works once.",
        )
    if link.revoked_at is not None:
        raise LinkRefused(
            "link_revoked",
            410,
            "This link was withdrawn",
            f"It was withdrawn on {link.revoked_at:%Y-%m-%d %H:%M} UTC. Ask the person who sent "
            "it for a new one if you still need to decide.",
        )
    if link.expires_at <= timezone.now():
        raise LinkRefused(
            "link_expired",
            410,
            "This link has expired",
            "Ask the person who sent it for a new one.",
        )
    item = item or link.content_item
    if item.version != link.version or item.status != ContentStatus.IN_REVIEW:
        raise LinkRefused(
            "content_changed",
            409,
            "This post changed",
            "The post was edited or decided since this link was sent, so this link no longer "
            "shows what would go out. Ask for a new link.",
        )
    state = services.current_step(item)
    if (state.step.pk if state else None) != link.step_id:
        raise LinkRefused(
            "step_moved",
            409,
            "This step is decided",
            "The approval step this link was sent for is no longer the one deciding. "
            "Ask for a new link.",
        )
    return link


def _find(token: str) -> ApprovalLink | None:
    if not TOKEN.match(token):
        return None
    return (
        ApprovalLink.objects.filter(token_hash=hash_link_token(token))
        .select_related("content_item__brand", "step")
        .first()
    )


def decide(token: str, decision: str, note: str = "") -> ApprovalLink:
    """Approve or reject through the link, once; nothing changes when it is refused.

    :raises LinkRefused: unknown, used, expired, or its item changed.
    :raises WorkflowError: the workflow refused (a crisis covers the item, it cannot go out).
    """
    with transaction.atomic():
        found = _find(token)
        link = (
            ApprovalLink.objects.select_for_update().filter(pk=found.pk).first() if found else None
        )
        item = (
            ContentItem.objects.select_for_update().get(pk=link.content_item_id) if link else None
        )
        link = usable(link, item)
        actor = Actor(role=Role.APPROVER, label=link.label, link=link)
        # During a crisis over this post only a member holding the playbook's role decides.
        from calendar_app.crisis.services import check_approval

        check_approval(item, Actor(role=None, label=link.label))
        if decision == "approve":
            workflow.approve(item, actor, note)
        else:
            workflow.reject(item, actor, note)
        link.used_at = timezone.now()
        link.decision = decision
        link.note = note
        link.save(update_fields=["used_at", "decision", "note", "updated_at"])
        return link


TEMPLATE = "approvals/link.html"


def _answer(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    response = TemplateResponse(request, TEMPLATE, context, status=status)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def link_view(request: HttpRequest, token: str) -> HttpResponse:
    """The client's page: the post as each channel will show it, and two buttons."""
    from calendar_app.admin.previews import item_panel

    if request.method == "POST":
        decision = request.POST.get("decision")
        note = (request.POST.get("note") or "").strip()[:2000]
        if decision not in {"approve", "reject"}:
            return _answer(request, {"title": "Nothing changed", "reason": "Choose a button."}, 400)
        if decision == "reject" and not note:
            link = _find(token)
            return _answer(
                request,
                {
                    "title": "Say what has to change",
                    "reason": "A rejection needs a note, so the team knows what to change.",
                    "token_ok": link is not None,
                },
                400,
            )
        try:
            link = decide(token, decision, note)
        except LinkRefused as exc:
            return _answer(request, {"title": exc.title, "reason": exc.reason}, exc.status)
        except WorkflowError as exc:
            return _answer(request, {"title": "Not possible now", "reason": exc.reason}, 409)
        done = "approved" if decision == "approve" else "sent back with your note"
        return _answer(
            request,
            {"title": "Thank you", "reason": f"“{link.content_item.title}” is {done}."},
        )
    try:
        link = usable(_find(token))
    except LinkRefused as exc:
        return _answer(request, {"title": exc.title, "reason": exc.reason}, exc.status)
    item = link.content_item
    return _answer(
        request,
        {
            "title": f"Approve “{item.title}”?",
            "link": link,
            "item": item,
            "step": link.step,
            "previews": item_panel(item),
        },
    )
