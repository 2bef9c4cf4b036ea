"""The machinery of the schema fuzz runs: checks, the world they run against, the rules a JSON
Schema cannot state (each with its reason) and one function that runs and checks a case.

Used by tests/api/test_schema_fuzz.py (the full, seeded run: ``pytest -m fuzz``) and
tests/api/test_schemathesis.py (the fast subset ``make test`` runs). See
docs/security/robustness.md.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.db import transaction
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from calendar_app.models import Role
from config.wsgi import application
from tests.api.conftest import build_world, token_client

#: The run's own seed: the same cases on every machine and every CI run.
SEED = int(os.environ.get("KAIROS_FUZZ_SEED", "20261130"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]

#: (method, path suffix) -> why a schema-valid request may still be refused with a 400. Only the
#: positive-data check is lifted there; a 5xx, an undeclared status or a laxer API still fail.
POSITIVE_EXCLUSIONS: dict[tuple[str, str], str] = {
    ("POST", "/media/"): "the file must be a real picture or video of an accepted type; the "
    "schema can only say `binary`",
    ("POST", "/events/import/"): "the file must be an iCalendar file; the schema can only say "
    "`binary`",
    ("POST", "/content-imports/"): "each row must name a brand, channels and dates of the "
    "workspace, and a file must be a CSV with the template's header; the schema can only say "
    "`object` and `binary`",
    ("POST", "/audiences/{audience_pk}/import/"): "the file must be a CSV with an email column; "
    "the schema can only say `binary`",
}

#: Rules a JSON Schema cannot state (one field against another, against the clock or against the
#: stored rows). A positive case answered 400 passes only when *every* field the 400 names is
#: listed here for that operation; (method, path suffix) -> {field: why}. "*" matches any path.
CROSS_FIELD_RULES: dict[tuple[str, str], dict[str, str]] = {
    ("*", "*"): {
        # Durations are `[DD] [HH:[MM:]]ss[.uuuuuu]` or ISO 8601, from 0 to 3650 days.
        "cooldown": "a duration of 0 to 3650 days in one of Django's duration forms",
        "lateness_tolerance": "a duration of 0 to 3650 days in one of Django's duration forms",
        "auto_end_after": "a duration in one of Django's duration forms",
        "escalate_after": "a duration of at least 5 minutes in one of Django's duration forms",
        "without_cta": "cannot be set together with a call to action or an experiment",
    },
    ("POST", "/approval-policies/"): {"brand": "one policy per brand (stored rows)"},
    ("*", "/approval-steps/"): {
        "order": "one step per place in the brand's chain (stored rows)",
        "members": "members of this workspace with the approver role (stored rows)",
    },
    ("*", "/approval-steps/{id}/"): {
        "order": "one step per place in the brand's chain (stored rows)",
        "members": "members of this workspace with the approver role (stored rows)",
        "brand": "a step's brand cannot change",
    },
    ("*", "/approval-policies/{id}/"): {"brand": "a policy's brand cannot change"},
    ("*", "/moments/"): {
        "ends_at": "after starts_at",
        "team": "members of this workspace (stored rows)",
        "templates": "reactive templates of the moment's brand (stored rows)",
    },
    ("*", "/moments/{id}/"): {
        "ends_at": "after starts_at",
        "team": "members of this workspace (stored rows)",
        "templates": "reactive templates of the moment's brand (stored rows)",
    },
    ("POST", "/moments/{id}/fire/"): {
        "template": "an armed template, inside the window (stored rows, the clock)",
        "channels": "channels of the template (stored rows)",
        "values": "every placeholder of the template (stored rows)",
    },
    ("*", "/posting-slots/"): {
        "channel": "a channel of the slot's brand (stored rows)",
        "local_time": "one slot per brand, channel, day and time (stored rows)",
    },
    ("*", "/posting-slots/{id}/"): {
        "channel": "a channel of the slot's brand (stored rows)",
        "local_time": "one slot per brand, channel, day and time (stored rows)",
        "brand": "a slot's brand cannot change",
    },
    ("GET", "/posting-slots/next-free/"): {"channel": "a channel of that brand (stored rows)"},
    ("POST", "/posting-slots/queue/"): {
        "content_item": "an approved item with channels (state)",
    },
    ("POST", "/content-series/"): {
        "source": "an approved item that is not an occurrence (state)",
        "rrule": "an RFC 5545 rule with COUNT or UNTIL, at most 400 posts",
        "starts_at": "a time that exists in the brand's zone",
        "exdates": "local date-times (YYYY-MM-DDTHH:MM)",
    },
    ("POST", "/content-series/{id}/edit-all/"): {
        "title": "a title (the model's rules)",
        "body": "a body (the model's rules)",
    },
    ("*", "/evergreen-items/"): {
        "content_item": "an approved item, evergreen once (state, stored rows)",
        "min_gap": "at least an hour",
    },
    ("*", "/evergreen-items/{id}/"): {
        "content_item": "an evergreen entry's item cannot change",
        "min_gap": "at least an hour",
    },
    ("*", "/listening/watches/"): {
        "terms": "no term that would match every post (too short, a stop word, a wildcard)",
        "name": "one watch of that name per brand (stored rows)",
    },
    ("*", "/listening/watches/{id}/"): {
        "terms": "no term that would match every post (too short, a stop word, a wildcard)",
        "name": "one watch of that name per brand (stored rows)",
    },
    ("POST", "/listening/messages/{id}/reply/"): {"body": "not only spaces"},
    ("POST", "/listening/messages/purge/"): {"handle": "not only spaces"},
    ("PATCH", "/listening/messages/{id}/"): {"category": "a category, a tone or both"},
    ("*", "/crisis-playbooks/"): {
        "notify_users": "members of this workspace (stored rows)",
        "holding_templates": "reactive templates of the playbook's brand (stored rows)",
        "channels": "channels of the playbook's brand (stored rows)",
    },
    ("*", "/crisis-playbooks/{id}/"): {
        "notify_users": "members of this workspace (stored rows)",
        "holding_templates": "reactive templates of the playbook's brand (stored rows)",
        "channels": "channels of the playbook's brand (stored rows)",
    },
    ("POST", "/audiences/{audience_pk}/subscribers/"): {
        "consent_at": "consent cannot be given in the future (the clock)"
    },
    ("POST", "/channels/"): {
        "settings": "the keys the chosen network requires (its schema in GET /networks/)",
        "secrets": "the credentials the chosen network requires (GET /networks/)",
    },
    ("PUT", "/channels/{id}/"): {
        "settings": "the keys the chosen network requires (its schema in GET /networks/)",
        "secrets": "the credentials the chosen network requires (GET /networks/)",
    },
    ("PATCH", "/channels/{id}/"): {
        "settings": "the keys the chosen network requires (its schema in GET /networks/)",
        "secrets": "the credentials the chosen network requires (GET /networks/)",
    },
    ("POST", "/connections/"): {
        "network": "an installed network that signs in with OAuth",
        "settings": "the keys the chosen network needs to start a sign-in",
    },
    ("POST", "/connections/{id}/choose/"): {
        "account": "one of the accounts the sign-in offered, while the connection waits for "
        "a pick (its stored state)",
    },
    ("*", "/events/"): {
        "rrule": "an RFC 5545 recurrence rule the server can expand",
        "ends_at": "after starts_at, at most 366 days later, and before 2201 in UTC",
        "starts_at": "from 1970 in UTC (a local time on 1970-01-01 may fall in 1969)",
    },
    ("*", "/events/{id}/"): {
        "rrule": "an RFC 5545 recurrence rule the server can expand",
        "ends_at": "after starts_at, at most 366 days later, and before 2201 in UTC",
        "starts_at": "from 1970 in UTC (a local time on 1970-01-01 may fall in 1969)",
    },
    ("*", "/experiments/{experiment_pk}/variants/"): {
        "is_control": "one control per experiment (stored variants)"
    },
    ("*", "/experiments/{experiment_pk}/variants/{id}/"): {
        "is_control": "one control per experiment (stored variants)"
    },
    ("*", "/content-items/"): {"media": "each entry gives exactly one of asset or url"},
    ("*", "/content-items/{id}/"): {
        "media": "each entry gives exactly one of asset or url",
        "thread": "each part's media entries give exactly one of asset or url",
    },
    ("GET", "/publications/"): {"due_before": "must be later than due_after"},
    ("GET", "/listening/messages/"): {"published_before": "must be later than published_after"},
    ("GET", "/metric-snapshots/"): {"collected_before": "must be later than collected_after"},
    ("GET", "/content-items/"): {"scheduled_before": "must be later than scheduled_after"},
    ("POST", "/content-items/"): {
        "media": "each entry gives exactly one of asset or url",
        "thread": "each part's media entries give exactly one of asset or url",
    },
    ("GET", "/events/"): {"end": "must be later than start"},
    ("GET", "/webhook-deliveries/"): {"created_before": "must be later than created_after"},
    ("GET", "/calendar/"): {
        "end": "must be later than start, at most a year after it",
        "start": "a calendar date (the pattern cannot say February has no 30th)",
    },
    ("POST", "/reactive-templates/"): {"valid_until": "must be after valid_from"},
    ("PUT", "/reactive-templates/{id}/"): {"valid_until": "must be after valid_from"},
    ("PATCH", "/reactive-templates/{id}/"): {"valid_until": "must be after valid_from"},
    ("POST", "/events/{id}/fit/"): {"override_note": "required when override_score is given"},
    ("POST", "/tokens/"): {
        "expires_at": "must be in the future (the clock, not the schema)",
        "username": "must name a member of this workspace",
    },
    ("POST", "/members/"): {"username": "must name an existing, active user"},
    ("PUT", "/members/{id}/"): {"username": "a membership's user cannot change"},
    ("PATCH", "/members/{id}/"): {"username": "a membership's user cannot change"},
    ("POST", "/experiments/{id}/start/"): {
        "variants": "challengers need a call to action unlike the control's (stored variants)"
    },
    ("POST", "/experiments/{id}/decide/"): {"variant": "needs exposures to analyse (state)"},
    ("POST", "/experiments/{id}/promote/"): {"variant": "must name a variant of the experiment"},
}
#: Messages a positive case's 400 may carry on any field, with why the schema does not say it.
TOLERATED_MESSAGES: dict[str, str] = {
    # PostgreSQL cannot store U+0000; a pattern on every string of the schema to say so would
    # make every generator filter its strings. Every door refuses it the same way.
    "Null characters are not allowed.": "no NUL character in any text",
    # The schema's year pattern bounds the text; an offset can still carry the instant out.
    "Give a date between 1900 and 9998.": "instants between the years 1900 and 9998 in UTC",
}
#: URL fields: Django's URLValidator is stricter than JSON Schema's string (a public host name of
#: at most 253 characters with a real top-level domain; http(s) or ftp).
URL_FIELDS = {"url", "cta_url", "default_cta_url", "links"}


#: path segment before ``{id}`` -> the world's basename of that resource
_RESOURCE = {
    "members": "member",
    "tokens": "token",
    "brands": "brand",
    "channels": "channel",
    "events": "event",
    "content-items": "content-item",
    "reactive-templates": "reactive-template",
    "experiments": "experiment",
    "variants": "variant",
    "publications": "publication",
    "metric-snapshots": "metric-snapshot",
    "webhooks": "webhook-subscription",
    "webhook-deliveries": "webhook-delivery",
    "media": "media",
    "connections": "connection",
    "calendar-feeds": "calendar-feed",
    "audiences": "audience",
    "subscribers": "subscriber",
    "audience-sends": "audience-send",
    "crisis-playbooks": "crisis-playbook",
    "crises": "crisis",
    "approval-policies": "approval-policy",
    "approval-steps": "approval-step",
    "comments": "comment",
    "moments": "moment",
    "approval-links": "approval-link",
    "posting-slots": "posting-slot",
    "content-series": "content-series",
    "evergreen-items": "evergreen-item",
    "transitions": "transition",
    "approval-records": "approval-record",
    "fires": "fire",
    "messages": "listening-message",
    "watches": "listening-watch",
    "alerts": "listening-alert",
}
#: names of query or body fields holding an id -> the world's basename it refers to
_REFERENCES = {
    "brand": "brand",
    "brands": "brand",
    "channel": "channel",
    "channels": "channel",
    "event": "event",
    "experiment": "experiment",
    "content_item": "content-item",
    "publication": "publication",
    "variant": "variant",
    "audience": "audience",
    "audiences": "audience",
    "subscription": "webhook-subscription",
    "asset": "media",
    "playbook": "crisis-playbook",
    "holding_templates": "reactive-template",
    "members": "user",
    "mentions": "user",
    "notify_users": "user",
    "templates": "reactive-template",
    "template": "reactive-template",
    "watch": "listening-watch",
}

_STATS: Counter[str] = Counter()


def fuzz_world(workspace: Any) -> Any:
    """:func:`build_world` plus the rows of the newer resources the schema also serves."""
    from calendar_app.models import CalendarFeed
    from tests import factories as f

    # build_world holds an audience, a subscriber, a send, a playbook and a finished drill.
    world = build_world(workspace)
    brand = world["brand"]
    world.objects["calendar-feed"], _ = CalendarFeed.issue(brand=brand, name="fuzz")
    # An approver (a person ids can name), a one-person approval step and a comment.
    from calendar_app.approvals.models import Comment

    approver = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    world.objects["user"] = approver
    world.objects["approval-policy"] = f.ApprovalPolicyFactory(
        workspace=workspace, brand=brand, separate_duties=False
    )
    world.objects["approval-step"] = f.ApprovalStepFactory(
        workspace=workspace, brand=brand, order=1, members=[approver]
    )
    world.objects["moment"] = f.MomentFactory(
        workspace=workspace, brand=brand, templates=[world["reactive-template"]]
    )
    item = world["content-item"]
    # A client link to read, email or revoke (its item need not be in review to exist).
    from calendar_app.approvals.models import ApprovalLink

    world.objects["approval-link"] = ApprovalLink.objects.create(
        workspace=workspace,
        content_item=item,
        version=item.version,
        name="Dana Client",
        email="dana@client.example",
        token_hash="f" * 64,
        prefix="ffffffff",
        expires_at=brand.created_at + timedelta(days=3650),
        created_by_label="fuzz",
    )
    world.objects["comment"] = Comment.objects.create(
        workspace=workspace,
        content_item=item,
        version=item.version,
        author=approver,
        author_label=approver.username,
        body="Looks good",
    )
    # Listening: a watch, a message that names it, and an alert it raised.
    watch = f.WatchFactory(workspace=workspace, brand=brand)
    world.objects["listening-watch"] = watch
    world.objects["listening-message"] = f.MessageFactory(
        channel=world["channel"], watch=watch, text="Love acme!"
    )
    world.objects["listening-alert"] = f.AlertFactory(
        watch=watch, count=12, baseline=1.0, negative_share=0.1
    )
    return world


@pytest.fixture
def keep_connection():
    """Django closes the database connection at the end of each WSGI request; inside a test's
    transaction that would close the test database, so (like Django's test client) don't."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth(db, keep_connection):
    from tests import factories as f

    world = fuzz_world(f.WorkspaceFactory(slug="schemathesis"))
    client = token_client(world.workspace, Role.ADMIN)
    return world, {"Authorization": f"Token {client.token}"}


def _real_id(world: Any, basename: str) -> int | None:
    row = world.objects.get(basename)
    return None if row is None else row.pk


def name_real_rows(case: Any, world: Any) -> None:
    """Point a positive case at the world's rows (see the module docstring)."""
    path = case.operation.path
    params = case.path_parameters or {}
    for match in re.finditer(
        r"/([a-z-]+)/\{(id|experiment_pk|audience_pk|item_pk|template_pk)\}", path
    ):
        basename = _RESOURCE.get(match.group(1))
        pk = _real_id(world, basename) if basename else None
        if pk is not None and match.group(2) in params:
            params[match.group(2)] = pk
    if case.query:
        for name, basename in _REFERENCES.items():
            value = case.query.get(name)
            numeric = type(value) is int or (isinstance(value, str) and value.isdigit())
            if numeric and (pk := _real_id(world, basename)) is not None:
                case.query[name] = pk
    if isinstance(case.body, dict):
        for name, basename in _REFERENCES.items():
            if name not in case.body or (pk := _real_id(world, basename)) is None:
                continue
            value = case.body[name]
            if isinstance(value, list) and all(type(v) is int for v in value):
                case.body[name] = [pk] if value else []
            elif type(value) is int:
                case.body[name] = pk


def _matches(case: Any, method: str, suffix: str) -> bool:
    return method in ("*", case.method.upper()) and (
        suffix == "*" or case.operation.path.endswith(suffix)
    )


def tolerated_refusal(case: Any, response: Any) -> bool:
    """A positive case's 400 whose every field is a rule of :data:`CROSS_FIELD_RULES`, a URL
    field, or carries only :data:`TOLERATED_MESSAGES`."""
    if response.status_code != 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    allowed = set(URL_FIELDS)
    for (method, suffix), fields in CROSS_FIELD_RULES.items():
        if _matches(case, method, suffix):
            allowed |= set(fields)
    fields = body.get("fields") or {}
    named = {
        name.split(".")[0]
        for name, messages in fields.items()
        if not all(message in TOLERATED_MESSAGES for message in messages)
    }
    return bool(fields) and named <= allowed


def checks_for(case: Any) -> tuple[list, list]:
    """The checks of this case, and those lifted for its operation (with a stated reason)."""
    if any(_matches(case, m, s) for (m, s) in POSITIVE_EXCLUSIONS):
        return [c for c in CHECKS if c is not positive_data_acceptance], [positive_data_acceptance]
    return CHECKS, []


def load_schema(*, coverage: bool) -> Any:
    """The app's schema, seeded with :data:`SEED`; ``coverage`` adds the coverage phase's
    deterministic boundary and wrong-type cases (the full run) to the random ones."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    schema.config.seed = SEED
    schema.config.phases.coverage.enabled = coverage
    return schema


def run_case(case: Any, auth: tuple[Any, dict[str, str]]) -> None:
    """Send ``case`` against the world and apply :data:`CHECKS` (minus stated exclusions)."""
    world, headers = auth
    params = case.path_parameters
    if params is not None and "workspace_slug" in params:
        params["workspace_slug"] = world.workspace.slug
    mode = case.meta.generation.mode.value if case.meta else "explicit"
    if mode == "positive":
        name_real_rows(case, world)
    checks, excluded = checks_for(case)
    started = time.perf_counter()
    # Each case starts from the same world: a row created by an earlier case would turn the next
    # one's name into a duplicate (state, not contract).
    with transaction.atomic():
        response = case.call(headers=headers)
        transaction.set_rollback(True)
    if (
        mode == "positive"
        and positive_data_acceptance in checks
        and tolerated_refusal(case, response)
    ):
        checks = [c for c in checks if c is not positive_data_acceptance]
        excluded = [*excluded, positive_data_acceptance]
    _STATS["cases"] += 1
    _STATS[f"mode:{mode}"] += 1
    _STATS[f"status:{response.status_code // 100}xx"] += 1
    _STATS["ms"] += int((time.perf_counter() - started) * 1000)
    case.validate_response(response, checks=checks, excluded_checks=excluded, headers=headers)


def report_stats(config: Any, label: str) -> None:
    """Print the run's counters: cases, per mode, per status class, time spent in requests
    (outside pytest's capture, which would swallow a module fixture's teardown output).

    An xdist worker has no terminal: it hands its counters to the controller
    (``workeroutput``), which adds up every worker's and prints them (tests/api/conftest.py).
    """
    if not _STATS["cases"]:
        return
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        # plain dicts: execnet sends only built-in types
        sent = workeroutput.setdefault("fuzz_stats", {}).setdefault(label, {})
        for key, value in _STATS.items():
            sent[key] = sent.get(key, 0) + value
    elif terminal is not None:
        capture = config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            terminal.write_line(f"\n{stats_line(label, _STATS)}")
    _STATS.clear()


def stats_line(label: str, stats: Counter[str]) -> str:
    parts = ", ".join(f"{key} {value}" for key, value in sorted(stats.items()) if key != "ms")
    return f"{label}: {parts}; {stats['ms'] / 1000:.1f} s in requests"
