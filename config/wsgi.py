"""WSGI entry point (gunicorn, uWSGI).

The application is loaded whole before the first request: the URLconf and every view it names
are imported now, then everything loaded so far is moved out of the garbage collector's sight
(``gc.freeze``). Those ~150,000 objects live as long as the worker; left tracked, every full
collection during a request walked them all, which is most of a list's p99 (issue 16).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def load_everything() -> None:
    """Import every view module of the URLconf now rather than on some request later."""
    from django.urls import get_resolver

    def walk(patterns) -> None:
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns)
            elif hasattr(pattern, "callback"):
                pattern.callback  # noqa: B018 - resolving imports the view's module

    walk(get_resolver().url_patterns)


load_everything()
gc.collect()
gc.freeze()
