"""Settings of the benchmark's web server: the project's, plus the bare view's URL and no API
throttling (the benchmark measures the server, not the rate limit)."""

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
