"""Lock-out with back-off for every password door (the admin login and the API's session login).

django-axes records failed logins and refuses a locked client before the password is checked;
this module gives its database handler an *escalating* lock and renders the lock page.

The rule, per (username, client address) pair:

* failures are remembered for a day (``AXES_COOLOFF_TIME``) after the last one and a
  successful login forgets them;
* at ``AXES_FAILURE_LIMIT`` failures the pair is locked for ``KAIROS_LOGIN_LOCKOUT_BASE``
  (5 minutes);
  every further failure after a lock has run out locks again for twice as long as the previous
  one, up to ``KAIROS_LOGIN_LOCKOUT_CAP`` (a day). So a guesser gets the limit's few tries,
  then one per 5, 10, 20, 40... minutes: about 15 guesses a day per address instead of millions;
* an attempt made *while* locked is refused without checking the password and does not extend
  the lock (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False``), so "try again in N
  minutes" on the lock page stays true.

Why per username *and* address: locking a username everywhere would let anyone lock a colleague
(or the only admin) out from the outside by typing wrong passwords on purpose; locking an address
alone would lock a whole office behind one NAT. The price is that an attacker with many addresses
gets the limit's tries from each of them; strong password validation is the defence there.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.contrib import admin
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone


def memory() -> timedelta:
    """How long failures are remembered after the last one (``AXES_COOLOFF_TIME``); also the
    longest a lock can last, since a forgotten failure cannot lock."""
    return settings.AXES_COOLOFF_TIME


def lock_duration(failures: int, limit: int) -> timedelta:
    """How long ``failures`` failures (``>= limit``) lock: the base, doubled for each failure
    past the limit, capped."""
    base = float(settings.KAIROS_LOGIN_LOCKOUT_BASE)
    cap = min(float(settings.KAIROS_LOGIN_LOCKOUT_CAP), memory().total_seconds())
    steps = max(0, failures - limit)
    seconds = cap if steps >= 64 else min(cap, base * (2**steps))
    return timedelta(seconds=seconds)


class BackoffDatabaseHandler(AxesDatabaseHandler):
    """axes' database handler whose lock lasts :func:`lock_duration` after the last failure.

    axes calls :meth:`get_failures` both to refuse a locked client and, right after recording a
    failure, to decide whether that failure locks; answering "the count, if the lock it causes
    still runs, else one less than the limit" gives the back-off without touching axes' tables.
    """

    def lock_state(
        self, request: HttpRequest, credentials: dict | None = None
    ) -> tuple[int, datetime | None]:
        """(failures remembered, when the lock ends or None) for the request's client."""
        limit = get_failure_limit(request, credentials)
        worst: tuple[int, datetime | None] = (0, None)
        for attempts in self.get_user_attempts(request, credentials):
            row = attempts.aggregate(n=Sum("failures_since_start"), last=Max("attempt_time"))
            failures, last = row["n"] or 0, row["last"]
            if failures >= limit and last is not None:
                ends = last + lock_duration(failures, limit)
                if worst[1] is None or ends > worst[1]:
                    worst = (failures, ends)
            elif worst[1] is None:
                worst = (max(worst[0], failures), None)
        return worst

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        failures, ends = self.lock_state(request, credentials)
        limit = get_failure_limit(request, credentials)
        if ends is not None and ends > timezone.now():
            return failures
        # A lock that has run out: still remembered (the next failure locks again, for longer),
        # but no longer refusing.
        return min(failures, limit - 1)


def purge_login_records(now: datetime | None = None) -> dict[str, int]:
    """Delete forgotten failures and old login records (the daily ``kairos.login_records_purge``
    schedule): axes itself only cleans the attempts of whoever logs in next."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    now = now or timezone.now()
    keep_logs = now - timedelta(days=settings.KAIROS_LOGIN_LOG_RETENTION_DAYS)
    attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=now - memory()).delete()
    logs, _ = AccessLog.objects.filter(attempt_time__lt=keep_logs).delete()
    failure_logs, _ = AccessFailureLog.objects.filter(attempt_time__lt=keep_logs).delete()
    return {"attempts": attempts, "logs": logs, "failure_logs": failure_logs}


def retry_after(request: HttpRequest, credentials: dict | None = None) -> timedelta:
    """How long the request's client has to wait before its next try (zero if it need not)."""
    _, ends = BackoffDatabaseHandler().lock_state(request, credentials)
    if ends is None:
        return timedelta(0)
    return max(timedelta(0), ends - timezone.now())


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The "too many attempts" page (``AXES_LOCKOUT_CALLABLE``): 429 with ``Retry-After``, in the
    admin's look, naming the wait in minutes; never which part of the credentials was wrong."""
    wait = retry_after(request, credentials)
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    context = {
        **admin.site.each_context(request),
        "title": "Too many login attempts",
        "minutes": minutes,
        "login_url": request.path,
    }
    response = TemplateResponse(request, "admin/login_locked.html", context, status=429)
    response["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
    response["Cache-Control"] = "no-store"
    return response.render()


__all__ = [
    "BackoffDatabaseHandler",
    "lock_duration",
    "lockout_response",
    "memory",
    "purge_login_records",
    "retry_after",
]
