"""Outbound webhooks as a plugin on the publication hooks (entry point ``outbound_webhooks``).

The plugin framework calls these after the host has committed each outcome; they turn it into
``publication.*`` events. They live in ``calendar_app`` (which may import ``publishers``, never
the other way round) because they read the publication's row for its workspace and brand.
Each hook is isolated by the framework, and :func:`emit_safely` logs instead of raising.

Django is imported inside the hooks, not at module level: the entry point is discovered by every
``build_plugin_manager()`` — including a plugin author's tests, which run without Django — and
importing this module must not need a configured project. The hooks only ever run in the host.
"""

from __future__ import annotations

from calendar_app.outbound.catalogue import (
    PUBLICATION_FAILED,
    PUBLICATION_SUCCEEDED,
    PUBLICATION_UNCONFIRMED,
)
from publishers import ChannelContext, PublicationRef, PublisherError, PublishResult, hookimpl


def _error(error: PublisherError) -> dict[str, str]:
    return {"code": error.code, "reason": error.reason}


def _emit(type_: str, ref: PublicationRef, **extra: object) -> None:
    """One query when nobody subscribed (the common case on a busy worker), else the event."""
    from django.db.models import Subquery

    from calendar_app.models import Publication, WebhookSubscription
    from calendar_app.outbound import payloads
    from calendar_app.outbound.events import emit_safely

    owner = Publication.objects.filter(pk=int(ref.publication_id)).values("workspace_id")
    if not WebhookSubscription.objects.filter(
        workspace_id=Subquery(owner), is_active=True
    ).exists():
        return
    publication = (
        Publication.objects.select_related("channel").filter(pk=int(ref.publication_id)).first()
    )
    if publication is None:
        return
    data = {"publication": payloads.publication(publication), **extra}
    emit_safely(publication.workspace_id, type_, data, publication.channel.brand_id)


@hookimpl
def publication_published(ref: PublicationRef, result: PublishResult, channel: ChannelContext):
    _emit(PUBLICATION_SUCCEEDED, ref)


@hookimpl
def publication_failed(
    ref: PublicationRef, error: PublisherError, channel: ChannelContext, final: bool
):
    # One event per publication that failed for good; attempts that will be retried stay
    # internal (they are in the publication's attempt log).
    if final:
        _emit(PUBLICATION_FAILED, ref, error=_error(error))


@hookimpl
def publication_unconfirmed(ref: PublicationRef, error: PublisherError, channel: ChannelContext):
    _emit(PUBLICATION_UNCONFIRMED, ref, error=_error(error))
