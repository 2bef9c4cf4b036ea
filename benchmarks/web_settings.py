"""Settings of the benchmark's web server: the project's, plus the bare view's URL and an API
rate limit no client reaches. The benchmark measures the server, not the limit: the throttle
still runs on every request, and its cost is counted, but never refuses one."""

from config.settings import *  # noqa: F403
from config.settings import REST_FRAMEWORK

ROOT_URLCONF = "benchmarks.web"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}),
        "api_key": "100000000/minute",
    },
}
