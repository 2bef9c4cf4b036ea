"""The ``data`` of each event: plain JSON built from rows, with ids as the REST API shows them.

Builders read only what the caller already holds (no extra queries for related rows that the
life-cycle code has loaded), and never include secrets.
"""

from __future__ import annotations

from typing import Any

from calendar_app.models import Channel, ContentItem, Experiment, Fire, Publication, Transition
from calendar_app.outbound.events import iso


def content_item(item: ContentItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "brand": item.brand_id,
        "title": item.title,
        "status": item.status,
        "version": item.version,
        "scheduled_at": iso(item.scheduled_at),
        "event": item.event_id,
        "experiment": item.experiment_id,
        "fire": item.fire_id,
    }


def transition(step: Transition) -> dict[str, Any]:
    return {
        "action": step.action,
        "from_status": step.from_status,
        "to_status": step.to_status,
        "actor": step.actor_label,
        "version": step.version,
        "note": step.note,
        "at": iso(step.at),
    }


def publication(pub: Publication) -> dict[str, Any]:
    return {
        "id": pub.pk,
        "content_item": pub.content_item_id,
        "channel": pub.channel_id,
        "network": pub.channel.network,
        "variant": pub.variant_id,
        "status": pub.status,
        "attempts": pub.attempts,
        "due_at": iso(pub.due_at),
        "external_id": pub.external_id,
        "external_url": pub.external_url,
        "published_at": iso(pub.published_at),
        "last_error_code": pub.last_error_code,
        "last_error_reason": pub.last_error_reason,
    }


def fire(item: Fire) -> dict[str, Any]:
    template = item.template
    return {
        "id": item.pk,
        "template": {"id": template.pk, "name": template.name, "version": item.template_version},
        "brand": template.brand_id,
        "fired_by": item.fired_by_label,
        "values": item.values,
        "fired_at": iso(item.fired_at),
    }


def channel(ch: Channel) -> dict[str, Any]:
    return {
        "id": ch.pk,
        "brand": ch.brand_id,
        "network": ch.network,
        "handle": ch.handle,
        "status": ch.status,
        "status_reason": ch.status_reason,
        "status_changed_at": iso(ch.status_changed_at),
    }


def experiment(exp: Experiment) -> dict[str, Any]:
    return {
        "id": exp.pk,
        "brand": exp.brand_id,
        "name": exp.name,
        "status": exp.status,
        "decision": exp.decision,
        "decision_summary": exp.decision_summary,
        "decided_variant": exp.decided_variant.key if exp.decided_variant_id else None,
        "decided_at": iso(exp.decided_at),
    }
