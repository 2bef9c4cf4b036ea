"""django-q2 entry points of listening (named in calendar_app/schedules.py); thin on purpose."""

from __future__ import annotations

from calendar_app.listening import collect, services, surges


def collect_messages() -> int:
    """Read every connected channel's streams (``kairos.listening_collect``)."""
    return collect.collect_all()


def check_surges() -> int:
    """Compare every active watch's last window with its baseline (``kairos.listening_surges``)."""
    return surges.check_all()


def purge_expired() -> int:
    """Delete messages older than each workspace's retention (``kairos.listening_retention``)."""
    return services.purge_expired()
