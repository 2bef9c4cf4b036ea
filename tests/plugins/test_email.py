"""The email network against a real SMTP server (aiosmtpd) on 127.0.0.1.

Every message the server receives is parsed with the ``email`` package and checked: headers,
both parts, the CTA of the recipient's variant, the unsubscribe URL. The recipient ledger here is
:class:`publishers.audience.MemoryLedger`; the host's database ledger (and resuming after a
killed worker) is tested in tests/audiences.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from plugins.email.network import EmailNetwork
from publishers import (
    CallToAction,
    ChannelContext,
    CredentialsExpired,
    PermanentError,
    Post,
    PublicationRef,
    TransientError,
    ValidationFailed,
    VariantOffer,
    split_recipients,
)
from publishers.audience import MemoryLedger, RecipientState, accepts_audience
from publishers.testing import NetworkConformance
from tests.plugins.imap_server import imap_fixture
from tests.plugins.smtp_server import SmtpServer
from tests.plugins.test_email_replies import with_mailbox

imap = imap_fixture

# aiosmtpd warns that AUTH without its STARTTLS check is unsafe; on the implicit-TLS server the
# whole connection is encrypted, so the warning does not apply there.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture(autouse=True)
def _loopback(monkeypatch):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "email")


@pytest.fixture
def server():
    with SmtpServer() as running:
        yield running


def channel_for(server: SmtpServer, **settings) -> ChannelContext:
    values = {
        "audience": 7,
        "from_address": "news@brand.example",
        "from_name": "Brand News",
        "reply_to": "hello@brand.example",
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "security": server.security,
        "rate_per_second": 0,
        **settings,
    }
    secrets = {}
    if server.users:
        user, password = next(iter(server.users.items()))
        values["username"] = user
        secrets["password"] = password
    return ChannelContext(id="c-email", network="email", settings=values, secrets=secrets)


def post(**changes) -> Post:
    base = Post(
        body="Our **autumn** collection is here\n\nSee what is new this week.",
        links=("https://brand.example/autumn",),
        cta=CallToAction("Shop the collection", "https://k.example/r/abc", "Shop now"),
        variant_key="",
        brand_name="Brand",
        brand_slug="brand",
        language="en",
        publication_id="42",
        scheduled_for=datetime.now(UTC),
    )
    return base.replace(**changes)


def check_message(received, recipient_email: str, unsubscribe_url: str) -> dict:
    """Parse one received message and check what every message must hold."""
    msg = received.message
    assert received.rcpt_tos == [recipient_email]
    assert received.mail_from == "news@brand.example"
    assert msg["From"] == "Brand News <news@brand.example>"
    assert msg["To"].addresses[0].addr_spec == recipient_email
    assert msg["Reply-To"] == "hello@brand.example"
    assert msg["Subject"] == "Our **autumn** collection is here"
    assert re.fullmatch(r"<[0-9a-f]{40}@brand\.example>", msg["Message-ID"])
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].startswith(f"<{unsubscribe_url}>")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content()
    assert "Our **autumn** collection is here" in text
    assert "<strong>autumn</strong>" in html
    assert "https://brand.example/autumn" in text and 'href="https://brand.example/autumn"' in html
    assert unsubscribe_url in text and f'href="{unsubscribe_url}"' in html
    return {"text": text, "html": html, "message_id": msg["Message-ID"]}


def test_the_network_opts_into_the_audience():
    network = EmailNetwork()
    assert accepts_audience(network)
    assert accepts_audience(network, "fetch_metrics")


def test_each_subscriber_gets_one_checked_message(server):
    ledger = MemoryLedger([("ada@example.org", "Ada Lovelace"), "bob@example.org"])
    network = EmailNetwork()
    result = network.publish(post(), channel_for(server), "key-1", audience=ledger)
    assert result.external_id == "email:key-1"
    assert dict(result.recipients_per_variant) == {}
    assert len(server.messages) == 2
    by_rcpt = {m.rcpt_tos[0]: m for m in server.messages}
    ada = check_message(
        by_rcpt["ada@example.org"], "ada@example.org", "https://kairos.invalid/u/m0/"
    )
    assert by_rcpt["ada@example.org"].message["To"].addresses[0].display_name == "Ada Lovelace"
    assert "Shop the collection\nhttps://k.example/r/abc" in ada["text"]
    assert 'href="https://k.example/r/abc"' in ada["html"] and ">Shop now</a>" in ada["html"]
    check_message(by_rcpt["bob@example.org"], "bob@example.org", "https://kairos.invalid/u/m1/")
    assert ledger.summary().count(RecipientState.SENT) == 2
    # A retry of the same publication sends nothing more: the ledger knows who has it.
    again = network.publish(post(), channel_for(server), "key-1", audience=ledger)
    assert again.external_id == result.external_id
    assert len(server.messages) == 2


def test_message_id_is_stable_per_publication_and_recipient(server):
    network = EmailNetwork()
    for _ in range(2):
        network.publish(post(), channel_for(server), "same-key", audience=MemoryLedger(["a@x.org"]))
    network.publish(post(), channel_for(server), "other-key", audience=MemoryLedger(["a@x.org"]))
    ids = [m.message["Message-ID"] for m in server.messages]
    assert ids[0] == ids[1] != ids[2]


def test_html_in_the_post_is_escaped(server):
    ledger = MemoryLedger(["a@x.org"])
    body = 'Hello <script>alert("x")</script> & <b>bold</b>'
    EmailNetwork().publish(post(body=body), channel_for(server), "k-esc", audience=ledger)
    html = server.messages[0].message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_unsubscribe_mailto_is_offered_too(server):
    ledger = MemoryLedger(["a@x.org"])
    channel = channel_for(server, unsubscribe_mailto="unsubscribe@brand.example")
    EmailNetwork().publish(post(), channel, "k-mailto", audience=ledger)
    header = server.messages[0].message["List-Unsubscribe"]
    assert header == (
        "<https://kairos.invalid/u/m0/>, "
        "<mailto:unsubscribe@brand.example?subject=unsubscribe%20m0>"
    )


def test_per_recipient_split_each_gets_exactly_one_variant(server):
    addresses = [f"user{n}@example.org" for n in range(200)]
    ledger = MemoryLedger(addresses)
    offers = (
        VariantOffer("control", 1, CallToAction("Read more", "https://k.example/r/ctl")),
        VariantOffer("challenger", 1, CallToAction("Get 10% off", "https://k.example/r/chl")),
    )
    split_post = post(cta=None, variants=offers, experiment_key="9")
    result = EmailNetwork().publish(split_post, channel_for(server), "k-split", audience=ledger)
    counts = dict(result.recipients_per_variant)
    assert sum(counts.values()) == 200 and set(counts) == {"control", "challenger"}
    expected = split_recipients(addresses, offers, "experiment:9")
    assert counts == {k: len(v) for k, v in expected.items()}
    arm_of = {a: k for k, members in expected.items() for a in members}
    seen = Counter()
    for received in server.messages:
        (rcpt,) = received.rcpt_tos
        text = received.message.get_body(("plain",)).get_content()
        arm = arm_of[rcpt]
        assert ("https://k.example/r/ctl" in text) == (arm == "control")
        assert ("https://k.example/r/chl" in text) == (arm == "challenger")
        seen[rcpt] += 1
    assert set(seen.values()) == {1} and len(seen) == 200
    # Recorded per recipient, too.
    assert {row.variant_key for row in ledger._rows} == {"control", "challenger"}


def test_5xx_bounces_and_4xx_defers_then_gives_up(server):
    ledger = MemoryLedger(["ok@x.org", "bounce@x.org", "defer@x.org"])
    network = EmailNetwork()
    channel = channel_for(server, max_deferrals=2)
    with pytest.raises(TransientError) as caught:
        network.publish(post(), channel, "k-bounce", audience=ledger)
    assert caught.value.code == "recipients_deferred"
    assert ledger.state_of("bounce@x.org") is RecipientState.BOUNCED
    assert ledger.bounced_addresses == ["bounce@x.org"]
    assert ledger.state_of("defer@x.org") is RecipientState.DEFERRED
    assert [m.rcpt_tos for m in server.messages] == [["ok@x.org"]]
    # The retry tries only the deferred one; deferred again, it is given up and the send ends.
    result = network.publish(post(), channel, "k-bounce", audience=ledger)
    assert result.external_id == "email:k-bounce"
    assert ledger.state_of("defer@x.org") is RecipientState.FAILED
    assert len(server.messages) == 1


def test_throttle_spaces_messages(server):
    ledger = MemoryLedger([f"t{n}@x.org" for n in range(5)])
    network = EmailNetwork()
    # Never assert wall-clock time: check the throttle's schedule instead.
    from plugins.email.network import throttle_for

    network.publish(post(), channel_for(server, rate_per_second=200), "k-rate", audience=ledger)
    throttle = throttle_for("c-email", 200.0)
    assert throttle.rate == 200.0 and throttle._next > 0
    assert len(server.messages) == 5


def test_validation_problems_have_codes():
    network = EmailNetwork()
    channel = ChannelContext(id="c", network="email", settings={"smtp_host": "mail.example"})
    codes = {p.code for p in network.validate(post(), channel)}
    assert {"no_audience", "missing_from_address"} <= codes
    bad = ChannelContext(
        id="c",
        network="email",
        settings={"audience": 1, "from_address": "not an address", "smtp_host": "m.example"},
    )
    assert "invalid_from_address" in {p.code for p in network.validate(post(), bad)}


def test_empty_audience_and_missing_audience_are_refused(server):
    network = EmailNetwork()
    with pytest.raises(ValidationFailed) as caught:
        network.publish(post(), channel_for(server), "k-empty", audience=MemoryLedger([]))
    assert [p.code for p in caught.value.problems] == ["empty_audience"]
    with pytest.raises(PermanentError) as missing:
        network.publish(post(), channel_for(server), "k-none")
    assert missing.value.code == "no_audience"


def test_metrics_are_recipients_not_opens(server):
    ledger = MemoryLedger(["a@x.org", "b@x.org", "bounce@x.org"])
    network = EmailNetwork()
    network.publish(post(), channel_for(server), "k-m", audience=ledger)
    ref = PublicationRef("42", "k-m", "email", "email:k-m")
    snapshot = network.fetch_metrics(ref, channel_for(server), audience=ledger)
    assert snapshot.available() == {"impressions": 2}
    assert network.capabilities.metrics == ("impressions",)


def test_unreachable_server_is_transient_and_releases_the_recipient():
    port_server = SmtpServer()
    channel = channel_for(port_server)  # never started: nothing listens on the port
    ledger = MemoryLedger(["a@x.org"])
    with pytest.raises(TransientError) as caught:
        EmailNetwork().publish(post(), channel, "k-down", audience=ledger)
    assert caught.value.code == "connection_failed"
    assert ledger.state_of("a@x.org") is RecipientState.PENDING


def test_private_addresses_need_the_operator(monkeypatch, server):
    monkeypatch.delenv("KAIROS_ALLOW_PRIVATE_NETWORKS")
    with pytest.raises(PermanentError) as caught:
        EmailNetwork().publish(
            post(), channel_for(server), "k-priv", audience=MemoryLedger(["a@x.org"])
        )
    assert caught.value.code == "address_refused"


# --- TLS and authentication ------------------------------------------------------------------------


@pytest.fixture
def trust(monkeypatch, tmp_path):
    """Make the client's default TLS context trust the test's self-signed certificate."""

    def use(server: SmtpServer) -> None:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.cert_file))

    return use


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_auth(security, tmp_path, trust):
    with SmtpServer(security=security, users={"kairos": "s3cret"}, cert_dir=tmp_path) as server:
        trust(server)
        channel = channel_for(server, smtp_host="localhost")
        network = EmailNetwork()
        assert network.test_connection(channel) == []
        assert len(server.messages) == 0, "a connection test sends nothing"
        ledger = MemoryLedger(["a@x.org"])
        network.publish(post(), channel, f"k-{security}", audience=ledger)
        check_message(server.messages[0], "a@x.org", "https://kairos.invalid/u/m0/")
        assert "kairos" in {user for _, user in server.recorder.logins}
        assert set(server.auth_mechanisms) <= {"LOGIN", "PLAIN"}


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_auth_mechanisms(mechanism, tmp_path, trust, monkeypatch):
    import smtplib

    with SmtpServer(security="starttls", users={"kairos": "s3cret"}, cert_dir=tmp_path) as server:
        trust(server)
        # smtplib tries the server's mechanisms in its own order; pin one for this test.
        monkeypatch.setattr(smtplib.SMTP, "login", _login_with(mechanism))
        channel = channel_for(server, smtp_host="localhost")
        EmailNetwork().publish(
            post(), channel, f"k-{mechanism}", audience=MemoryLedger(["a@x.org"])
        )
        assert server.recorder.logins == [(mechanism, "kairos")]


def _login_with(mechanism: str):
    import smtplib

    original = smtplib.SMTP.login

    def login(self, user, password, *, initial_response_ok=True):
        self.ehlo_or_helo_if_needed()
        self.user, self.password = user, password
        method = "auth_" + mechanism.lower().replace("-", "_")
        return self.auth(mechanism, getattr(self, method), initial_response_ok=initial_response_ok)

    login.original = original
    return login


def test_wrong_password_expires_the_credentials(tmp_path, trust):
    with SmtpServer(security="starttls", users={"kairos": "s3cret"}, cert_dir=tmp_path) as server:
        trust(server)
        channel = channel_for(server, smtp_host="localhost")
        channel = ChannelContext(
            id=channel.id, network="email", settings=channel.settings, secrets={"password": "nope"}
        )
        problems = EmailNetwork().test_connection(channel)
        assert [p.code for p in problems] == ["auth_failed"]
        with pytest.raises(CredentialsExpired):
            EmailNetwork().publish(post(), channel, "k-auth", audience=MemoryLedger(["a@x.org"]))
        assert server.messages == []


def test_untrusted_certificate_is_refused(tmp_path):
    with SmtpServer(security="starttls", cert_dir=tmp_path) as server:
        channel = channel_for(server, smtp_host="localhost")
        problems = EmailNetwork().test_connection(channel)
        assert [p.code for p in problems] == ["tls_certificate"]


# --- the contract ----------------------------------------------------------------------------------


class _BoundEmailNetwork(EmailNetwork):
    """The conformance kit calls ``publish`` without an audience; give each key its own list, as
    the host gives each publication its own send."""

    def __init__(self) -> None:
        self.ledgers: dict[str, MemoryLedger] = {}

    def publish(self, post, channel, idempotency_key, *, audience=None):
        ledger = self.ledgers.setdefault(
            idempotency_key, MemoryLedger(["one@example.org", "two@example.org", "three@x.org"])
        )
        return super().publish(post, channel, idempotency_key, audience=audience or ledger)


class TestEmailConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return _BoundEmailNetwork()

    @pytest.fixture
    def channel(self, server, imap):
        # With a reply mailbox: the network claims to read replies.
        return with_mailbox(channel_for(server), imap, "INBOX")

    @pytest.fixture
    def failing_channels(self):
        closed = SmtpServer()
        return [(channel_for(closed), TransientError)]


def test_no_unsubscribe_url_no_send(server):
    ledger = MemoryLedger(["a@x.org"], unsubscribe_base="")
    ledger._rows[0].unsubscribe_url = ""
    with pytest.raises(PermanentError) as caught:
        EmailNetwork().publish(post(), channel_for(server), "k-nourl", audience=ledger)
    assert caught.value.code == "no_unsubscribe_url"
    assert server.messages == []


def test_a_connection_cut_after_the_body_leaves_that_recipient_in_doubt(server):
    ledger = MemoryLedger(["a@x.org", "drop@x.org", "c@x.org"])
    network = EmailNetwork()
    with pytest.raises(TransientError) as caught:
        network.publish(post(), channel_for(server), "k-drop", audience=ledger)
    assert caught.value.code == "connection_lost"
    assert ledger.state_of("drop@x.org") is RecipientState.IN_DOUBT
    assert ledger.state_of("c@x.org") is RecipientState.PENDING
    # The retry resumes after it and never sends to the recipient in doubt.
    network.publish(post(), channel_for(server), "k-drop", audience=ledger)
    assert [m.rcpt_tos for m in server.messages] == [["a@x.org"], ["c@x.org"]]
    assert ledger.summary().count(RecipientState.IN_DOUBT) == 1
