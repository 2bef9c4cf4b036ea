"""Password guessing on the admin login and the API's session login: lock-out with back-off.

Each test starts with the attack: wrong passwords from one address until the door refuses even
the right one. Time is moved by ageing the recorded attempt (``attempt_time``), the way the
tracking tests age clicks: no sleeping, no wall-clock assertions.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from calendar_app.login_lockout import lock_duration, purge_login_records
from tests import factories as f

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
API_LOGIN = "/api/auth/login/"
PASSWORD = "pw-for-tests"
ATTACKER = "203.0.113.66"


@pytest.fixture
def staff(db):
    return f.UserFactory(username="mara", is_staff=True, is_superuser=True)


def _try(client: Client, password: str, *, url: str = ADMIN_LOGIN, ip: str = ATTACKER, **extra):
    return client.post(
        url,
        {"username": "mara", "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
        **extra,
    )


def _logged_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


def _age_attempts(by: timedelta) -> None:
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - by)


def test_six_wrong_passwords_then_the_right_one_is_refused(staff):
    client = Client()
    codes = [_try(client, f"guess-{n}").status_code for n in range(6)]
    # four plain "wrong password" pages, then the fifth failure locks
    assert codes[:4] == [200, 200, 200, 200]
    assert codes[4:] == [429, 429]
    refused = _try(client, PASSWORD)
    assert refused.status_code == 429
    assert "_auth_user_id" not in refused.wsgi_request.session
    body = refused.content.decode()
    assert "Too many failed login attempts" in body and "Try again in 5 minutes" in body
    assert 'id="site-name"' in body  # the admin's look, not a bare text answer
    assert 0 < int(refused["Retry-After"]) <= 300


def test_allowed_again_after_the_cool_off(staff):
    client = Client()
    for n in range(5):
        _try(client, f"guess-{n}")
    assert _try(client, PASSWORD).status_code == 429
    _age_attempts(lock_duration(5, 5) + timedelta(seconds=1))
    assert _logged_in(_try(client, PASSWORD))
    assert not AccessAttempt.objects.exists()  # success forgets the failures


def test_each_failure_after_a_lock_doubles_the_next_one(staff):
    client = Client()
    for n in range(5):
        _try(client, f"guess-{n}")
    base = timedelta(seconds=settings.KAIROS_LOGIN_LOCKOUT_BASE)
    _age_attempts(base + timedelta(seconds=1))
    again = _try(client, "one-more-guess")  # a single guess, and locked again at once
    assert again.status_code == 429
    assert "Try again in 10 minutes" in again.content.decode()
    _age_attempts(base + timedelta(seconds=1))  # the first lock's length is not enough now
    assert _try(client, PASSWORD).status_code == 429
    _age_attempts(base)
    assert _logged_in(_try(client, PASSWORD))


def test_tries_while_locked_do_not_extend_the_lock(staff):
    client = Client()
    for n in range(5):
        _try(client, f"guess-{n}")
    for n in range(5):
        _try(client, f"locked-guess-{n}")
    assert AccessAttempt.objects.get().failures_since_start == 5


def test_lock_of_one_address_leaves_the_same_user_elsewhere_alone(staff):
    for n in range(6):
        _try(Client(), f"guess-{n}")
    assert _try(Client(), PASSWORD).status_code == 429
    assert _logged_in(_try(Client(), PASSWORD, ip="198.51.100.20"))


def test_lock_of_one_user_leaves_other_users_of_the_address_alone(staff):
    f.UserFactory(username="noor", is_staff=True, is_superuser=True)
    for n in range(6):
        _try(Client(), f"guess-{n}")
    other = Client().post(
        ADMIN_LOGIN, {"username": "noor", "password": PASSWORD}, REMOTE_ADDR=ATTACKER
    )
    assert _logged_in(other)


def test_rotating_within_an_ipv6_64_does_not_reset_the_count(staff):
    for n in range(5):
        _try(Client(), f"guess-{n}", ip=f"2001:db8:1:2::{n + 1:x}")
    assert _try(Client(), PASSWORD, ip="2001:db8:1:2:ffff::1").status_code == 429
    assert _logged_in(_try(Client(), PASSWORD, ip="2001:db8:1:3::1"))


def test_the_api_session_login_is_locked_too(staff):
    client = Client()
    for n in range(5):
        _try(client, f"guess-{n}", url=API_LOGIN)
    refused = _try(client, PASSWORD, url=API_LOGIN)
    assert refused.status_code == 429
    # ... and the lock is per person and address, whichever door was used
    assert _try(client, PASSWORD).status_code == 429


@override_settings(KAIROS_CLIENT_IP_HEADER="X-Forwarded-For", KAIROS_TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_a_forged_forwarded_for_does_not_help(staff):
    # The attacker writes a new address into X-Forwarded-For each time; the proxy appends the
    # real one, which is the only one believed.
    for n in range(5):
        _try(
            Client(),
            f"guess-{n}",
            ip="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {ATTACKER}",
        )
    refused = _try(Client(), PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR=ATTACKER)
    assert refused.status_code == 429
    elsewhere = _try(Client(), PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert _logged_in(elsewhere)


def test_no_password_is_stored_with_the_attempt(staff):
    _try(Client(), "my-secret-guess")
    attempt = AccessAttempt.objects.get()
    assert "my-secret-guess" not in attempt.post_data


def test_purge_forgets_old_attempts_and_logs(staff):
    client = Client()
    _try(client, "guess")
    assert _logged_in(_try(Client(), PASSWORD, ip="198.51.100.20"))
    assert AccessAttempt.objects.count() == 1 and AccessLog.objects.count() == 1
    later = timezone.now() + timedelta(days=settings.KAIROS_LOGIN_LOG_RETENTION_DAYS + 1)
    assert purge_login_records(now=later) == {"attempts": 1, "logs": 1, "failure_logs": 0}


def test_lock_duration_doubles_and_is_capped():
    assert lock_duration(5, 5) == timedelta(minutes=5)
    assert lock_duration(6, 5) == timedelta(minutes=10)
    assert lock_duration(9, 5) == timedelta(minutes=80)
    assert lock_duration(40, 5) == timedelta(hours=24)
    assert lock_duration(10**6, 5) == timedelta(hours=24)
