"""Settings for the test suite: the real settings, with tasks run inline and fast hashing.

django-q2 reads ``Q_CLUSTER["sync"]`` when it is imported, so it is set here rather than with
``override_settings``. Tests that need a real cluster start ``qcluster`` with these settings
minus ``sync`` (see tests/e2e).
"""

import os
import tempfile

os.environ.setdefault("KAIROS_ENV", "test")
os.environ.setdefault("KAIROS_Q_SYNC", "1")
# Stored media of a test run go to a directory of their own; set in the environment so the
# end-to-end tests' worker processes read the same files.
os.environ.setdefault(
    "KAIROS_MEDIA_ROOT", os.path.join(tempfile.gettempdir(), f"kairos-test-media-{os.getpid()}")
)

from config.settings import *  # noqa: F403
from config.settings import Q_CLUSTER

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
Q_CLUSTER = {**Q_CLUSTER, "sync": os.environ.get("KAIROS_Q_SYNC") == "1"}

# SQLite test databases live in a file, not in memory, so that the end-to-end tests' real
# qcluster and dispatcher processes see the rows the test writes (tests/e2e). One file per test
# run, so that two runs on one machine never share (or delete) each other's database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"kairos-test-{os.getpid()}.sqlite3")
    }
