"""WSGI application of the benchmark's web server (``gunicorn benchmarks.web_wsgi``): the
project's own entry point (``config.wsgi``, loaded whole and frozen) with the benchmark's URLs."""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.web_settings"

from config.wsgi import application

__all__ = ["application"]
