"""WSGI application of the benchmark's web server (``gunicorn benchmarks.web_wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.web_settings"
application = get_wsgi_application()
