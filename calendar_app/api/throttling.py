"""Rate limits per key: each API token, session user or (unauthenticated) address has its own
budget, so one runaway integration cannot starve the others of a workspace.

A budget of ``N/period`` is a bucket of ``N`` requests that refills continuously, one request
every ``period / N`` (the generic cell rate algorithm, GCRA): a key may spend its ``N`` at once,
then goes on at the rate. Its whole state is one number in the cache, the time at which the
bucket would be full again. DRF's own throttle keeps the time of every request of the last
period and writes the list back on every request, so its cost grows with the budget: at
1,200 requests a minute a busy key paid 68 µs a request in the local-memory cache, and under
the load benchmark (four workers, each with thousands of requests a minute) 0.4 ms, a tenth of a
content page. Here it costs the same at any budget.

Over any stretch of time ``t`` a key gets at most ``N + t * N / period`` requests through: the
rate held over the long run, with one bucket's worth of burst (``tests/api/test_throttling.py``).

The cache is each process's memory unless ``KAIROS_CACHE_URL`` names a Redis, which every
worker then shares. Reading and writing the bucket are two steps, so requests of one key that
arrive at the same instant on two workers may both pass: the budget can be exceeded by as many
requests as the key has in flight at once, never more. When the cache cannot be reached the
request is let through (and logged): the rate limit protects the API, it must not stop it.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from calendar_app.models import ApiToken

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    #: Seconds until the refused request would have been let through.
    _wait: float | None = None

    def get_rate(self) -> str | None:
        # Read at request time (not class creation) so settings overrides apply in tests.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        try:
            full_at = self.cache.get(self.key)
        except Exception:  # the cache's own errors (a Redis gone): not the client's fault
            logger.warning("rate limit not applied: the cache cannot be read", exc_info=True)
            return True
        if not isinstance(full_at, float):  # nothing kept yet, or an older throttle's list
            full_at = now
        # Each request moves the moment the bucket is full again one interval later; it may
        # not lie more than a whole period ahead.
        full_at = max(full_at, now) + self.duration / self.num_requests
        ahead = full_at - now
        if ahead > self.duration:
            self._wait = ahead - self.duration
            return False
        try:
            self.cache.set(self.key, full_at, math.ceil(ahead))
        except Exception:
            logger.warning("rate limit not recorded: the cache cannot be written", exc_info=True)
        return True

    def wait(self) -> float | None:
        """The seconds a refused request should wait (``Retry-After``)."""
        return self._wait
