"""The named django-q2 schedules Kairos relies on, created or updated idempotently by name.

Called after every ``migrate`` (post_migrate), so a deployment never runs without them and never
accumulates duplicates; a renamed task function is corrected here instead of silently breaking a
stored schedule.
"""

from __future__ import annotations

from django.conf import settings
from django_q.models import Schedule


def wanted() -> dict[str, dict]:
    return {
        "kairos.sweep": {
            "func": "calendar_app.tasks.sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
        },
        "kairos.webhooks_sweep": {
            "func": "calendar_app.outbound.tasks.sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
        },
        "kairos.collect_metrics": {
            "func": "calendar_app.tasks.collect_metrics",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.KAIROS_METRICS_INTERVAL_MINUTES,
        },
        "kairos.crisis_auto_end": {
            "func": "calendar_app.crisis.services.end_due_activations",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
        },
        "kairos.approvals_expire": {
            "func": "calendar_app.approvals.services.expire_waiting",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
        },
        "kairos.approvals_escalate": {
            "func": "calendar_app.approvals.services.escalate_late_steps",
            "schedule_type": Schedule.MINUTES,
            "minutes": 5,
        },
        "kairos.moment_readiness": {
            "func": "calendar_app.moments.services.tick",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
        },
        "kairos.refresh_tokens": {
            "func": "calendar_app.connect.refresh.refresh_due_tokens",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
        },
        "kairos.evergreen_refill": {
            "func": "calendar_app.recurring.tasks.refill_all_evergreen",
            "schedule_type": Schedule.HOURLY,
        },
        "kairos.listening_collect": {
            "func": "calendar_app.listening.tasks.collect_messages",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.KAIROS_LISTENING_INTERVAL_MINUTES,
        },
        "kairos.listening_surges": {
            "func": "calendar_app.listening.tasks.check_surges",
            "schedule_type": Schedule.MINUTES,
            "minutes": 5,
        },
        "kairos.listening_retention": {
            "func": "calendar_app.listening.tasks.purge_expired",
            "schedule_type": Schedule.DAILY,
        },
        "kairos.channel_facts": {
            "func": "calendar_app.delivery.facts.refresh_all_facts",
            "schedule_type": Schedule.DAILY,
        },
        "kairos.task_failures_purge": {
            "func": "calendar_app.tasks.purge_task_failures",
            "schedule_type": Schedule.DAILY,
        },
        "kairos.planner_statistics": {
            "func": "calendar_app.planner_statistics.refresh",
            "schedule_type": Schedule.DAILY,
        },
        "kairos.login_records_purge": {
            "func": "calendar_app.login_lockout.purge_login_records",
            "schedule_type": Schedule.DAILY,
        },
    }


def sync_schedules() -> list[str]:
    """Create or update Kairos's schedules; returns their names."""
    for name, spec in wanted().items():
        Schedule.objects.update_or_create(name=name, defaults={**spec, "repeats": -1})
    return sorted(wanted())
