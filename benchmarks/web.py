"""URLs of the benchmark's web server: the project's, plus two of its own.

* ``bench/bare/``: a Django view returning constant JSON, through the same middleware, server
  and workers as the endpoints measured: the ceiling the API's throughput is a ratio of.
* ``bench/worker/``: what one worker holds (objects the garbage collector tracks, whether a
  heavy scientific library was imported), read after the run.
"""

from __future__ import annotations

import gc
import sys

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as project

HEAVY = ("numpy", "scipy", "pandas", "statsmodels", "gbstats")


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "items": [1, 2, 3]})


def worker(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "gc_tracked_objects": len(gc.get_objects()),
            "heavy_modules": sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY)),
        }
    )


urlpatterns = [path("bench/bare/", bare), path("bench/worker/", worker), *project]
