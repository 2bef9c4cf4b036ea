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
    budget = getattr(settings, "KAIROS_DRAIN_BUDGET", 0)
    if budget and q.get("timeout") and budget * 2 > q["timeout"]:
        problems.append(
            Warning(
                "KAIROS_DRAIN_BUDGET leaves too little of the task time-out for the last delivery "
                "of a wake-up: django-q2 would kill the worker mid-post.",
                hint="Keep KAIROS_DRAIN_BUDGET at most half of KAIROS_Q_TIMEOUT.",
                id="kairos.W002",
            )
        )
    floor = (
        getattr(settings, "KAIROS_CLAIM_TTL", 0)
        + getattr(settings, "KAIROS_RECOVERY_INTERVAL", 0)
        + getattr(settings, "KAIROS_DISPATCH_INTERVAL", 0)
        + getattr(settings, "KAIROS_DISPATCH_LOOKAHEAD", 0)
    )
    if getattr(settings, "KAIROS_RECOVERY_BOUND", floor) < floor:
        problems.append(
            Warning(
                f"KAIROS_RECOVERY_BOUND is shorter than recovery can be ({floor:g} s: claim lease "
                "+ recovery interval + dispatch interval + look-ahead), so /health/ would report "
                "healthy recoveries as failures.",
                hint="Raise KAIROS_RECOVERY_BOUND or shorten KAIROS_CLAIM_TTL.",
                id="kairos.W005",
            )
        )
    from calendar_app.delivery.policy import check_configuration

    problems.extend(Error(message, id="kairos.E006") for message in check_configuration())
    if q.get("save_limit", 250) > 200:
        problems.append(
            Warning(
                f"Q_CLUSTER save_limit is {q.get('save_limit', 250)}: django-q2 loads every kept "
                "result to prune one after each task, which slows every task down.",
                hint="Keep KAIROS_Q_SAVE_LIMIT at -1 (the default) or at most 200.",
                id="kairos.W007",
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
    problems = []
    if settings.KAIROS_ENV == "production" and not getattr(
        settings, "KAIROS_TRACKING_BASE_URL", ""
    ):
        problems.append(
            Warning(
                "KAIROS_TRACKING_BASE_URL is not set: CTA links go out untracked, so experiments on networks "
                "that report no clicks have nothing to count.",
                id="kairos.W003",
            )
        )
    if settings.KAIROS_ENV == "production" and len(settings.KAIROS_ENCRYPTION_KEYS) > 3:
        problems.append(
            Warning(
                "More than three encryption keys are configured; run rotate_encryption_keys and drop old ones.",
                id="kairos.W001",
            )
        )
    return problems
