"""Adding, importing, unsubscribing and bounce feedback (calendar_app.audiences.services)."""

from __future__ import annotations

import pytest

from calendar_app.audiences import services
from calendar_app.audiences.models import Subscriber, SubscriberStatus
from tests.audiences.conftest import CONSENT_AT, AudienceListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_import_reports_each_bad_row_and_writes_the_good_ones(audience):
    SubscriberFactory(audience=audience, email="Known@Example.org")
    data = csv(
        "email,name,consent_at,consent_source",
        "ada@example.org,Ada,2026-01-02T10:00:00Z,form",
        "not-an-address,Bob,2026-01-02,form",
        "ADA@example.ORG,Ada again,2026-01-02,form",
        "known@example.org,Known,2026-01-02,form",
        "carl@example.org,Carl,,form",
        "dora@example.org,Dora,2026-01-02,",
        "erin@example.org,Erin,yesterday,form",
        "",
        "fred@Example.ORG,Fred,2026-01-03,event",
    )
    result = services.import_csv(audience, data)
    summary = result.to_dict()
    assert summary["rows"] == 8 and summary["created"] == 2 and summary["skipped"] == 6
    assert [(e["row"], e["field"], e["code"]) for e in summary["errors"]] == [
        (3, "email", "invalid_email"),
        (4, "email", "duplicate"),
        (5, "email", "duplicate"),
        (6, "consent_at", "missing_consent"),
        (7, "consent_source", "missing_consent"),
        (8, "consent_at", "invalid_consent_at"),
    ]
    emails = set(Subscriber.objects.filter(audience=audience).values_list("email", flat=True))
    assert emails == {"Known@Example.org", "ada@example.org", "fred@example.org"}
    fred = Subscriber.objects.get(email="fred@example.org")
    assert fred.consent_source == "event" and fred.consent_at.year == 2026


def test_defaults_fill_consent_and_dry_run_writes_nothing(audience):
    data = csv("email", "a@example.org", "b@example.org")
    dry = services.import_csv(
        audience,
        data,
        default_consent_source="trade fair",
        default_consent_at=CONSENT_AT,
        dry_run=True,
    )
    assert dry.valid == 2 and dry.created == 0 and not dry.errors
    assert not Subscriber.objects.exists()
    done = services.import_csv(
        audience, data, default_consent_source="trade fair", default_consent_at=CONSENT_AT
    )
    assert done.created == 2
    assert set(Subscriber.objects.values_list("consent_source", flat=True)) == {"trade fair"}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"name,consent_at\nAda,2026-01-01\n", "missing_email_column"),
        (b"\xff\xfe\x00e\x00m", "not_utf8"),
        (b"email\na@b.org\x00\n", "not_csv"),
        (b'email\n"unterminated\n', None),
    ],
)
def test_a_malformed_file_writes_nothing(audience, data, code):
    if code is None:  # csv reads an unterminated quote as one cell: one bad row, nothing else
        result = services.import_csv(
            audience, data, default_consent_source="x", default_consent_at=CONSENT_AT
        )
        assert result.created == 0 and result.errors[0].code == "invalid_email"
        return
    with pytest.raises(services.AudienceError) as caught:
        services.import_csv(audience, data)
    assert caught.value.code == code
    assert not Subscriber.objects.exists()


def test_too_large_a_file_is_refused(audience):
    with pytest.raises(services.AudienceError) as caught:
        services.import_csv(audience, b"email\n" + b"a" * services.MAX_CSV_BYTES)
    assert caught.value.code == "too_large"


def test_add_subscriber_needs_consent_and_refuses_duplicates(audience):
    services.add_subscriber(
        audience, email="ada@Example.org", consent_at=CONSENT_AT, consent_source="form"
    )
    with pytest.raises(services.AudienceError) as dup:
        services.add_subscriber(
            audience, email="ADA@example.org", consent_at=CONSENT_AT, consent_source="form"
        )
    assert dup.value.code == "duplicate"
    with pytest.raises(services.AudienceError) as consent:
        services.add_subscriber(audience, email="bob@x.org", consent_at=None, consent_source="f")
    assert consent.value.code == "missing_consent"


def test_unsubscribe_is_idempotent_and_keeps_stronger_states(audience):
    subscriber = SubscriberFactory(audience=audience)
    assert services.unsubscribe(subscriber.unsubscribe_token).status == "unsubscribed"
    assert services.unsubscribe(subscriber.unsubscribe_token).status == "unsubscribed"
    bounced = SubscriberFactory(audience=audience, status=SubscriberStatus.BOUNCED)
    assert services.unsubscribe(bounced.unsubscribe_token).status == "bounced"
    assert services.unsubscribe("no-such-token") is None


def test_tokens_are_unguessable_and_distinct(audience):
    tokens = {SubscriberFactory(audience=audience).unsubscribe_token for _ in range(50)}
    assert len(tokens) == 50 and all(len(t) >= 43 for t in tokens)


def test_feedback_marks_every_list_of_the_workspace_only(audience, other_workspace):
    other_list = AudienceListFactory(brand=audience.brand, workspace=audience.workspace)
    a = SubscriberFactory(audience=audience, email="x@example.org")
    b = SubscriberFactory(audience=other_list, email="X@example.org")
    foreign = SubscriberFactory(
        audience=AudienceListFactory(brand__workspace=other_workspace, workspace=other_workspace),
        email="x@example.org",
    )
    assert services.record_feedback(audience.workspace, "x@EXAMPLE.org", "complaint") == 2
    for row in (a, b, foreign):
        row.refresh_from_db()
    assert a.status == b.status == "complained"
    assert foreign.status == "subscribed"
    # A later bounce report does not downgrade a complaint.
    assert services.record_feedback(audience.workspace, "x@example.org", "bounce") == 0
