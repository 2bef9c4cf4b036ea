"""Django system checks for the configuration Kairos relies on.

They run with every management command (and ``manage.py check --deploy``), so a misconfigured
worker refuses to start instead of failing at the first delivery.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility)
def check_task_queue(app_configs, **kwargs) -> list:
    problems = []
    q = getattr(settings, "Q_CLUSTER", {})
    if q.get("timeout") and q.get("retry") and q["timeout"] >= q["retry"]:
        problems.append(
            Error(
                "Q_CLUSTER timeout must be smaller than retry, or a long task is handed to a second worker.",
                hint="Set KAIROS_Q_TIMEOUT below KAIROS_Q_RETRY.",
                id="kairos.E001",
            )
        )
    if not q.get("ack_failures"):
        problems.append(
            Error(
                "Q_CLUSTER ack_failures must be True: Kairos decides retries itself; broker replays could "
                "deliver a publication twice.",
                id="kairos.E002",
            )
        )
    return problems


@register(Tags.security)
def check_encryption_keys(app_configs, **kwargs) -> list:
    from calendar_app.fields import fernet

    try:
        fernet()
    except Exception as exc:  # ImproperlyConfigured with a helpful message
        return [Error(str(exc), id="kairos.E003")]
    if settings.KAIROS_ENV == "production" and len(settings.KAIROS_ENCRYPTION_KEYS) > 3:
        return [
            Warning(
                "More than three encryption keys are configured; run rotate_encryption_keys and drop old ones.",
                id="kairos.W001",
            )
        ]
    return []
