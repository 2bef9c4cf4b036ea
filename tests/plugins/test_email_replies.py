"""Replies to a newsletter read back from a real IMAP server (pymap on 127.0.0.1,
tests/plugins/imap_server.py): the test delivers mail into the mailbox, the plugin reads it with
the standard IMAP client (nothing mocked)."""

from __future__ import annotations

import dataclasses
import imaplib
import uuid
from email.message import EmailMessage

import pytest

from plugins.email.message import message_id
from plugins.email.network import EmailNetwork
from plugins.email.replies import ImapSettings
from publishers import ChannelContext, PermanentError, PublicationRef
from publishers.listening import StaleCursor
from tests.plugins.imap_server import PASSWORD, USER, ImapServer, imap_fixture

imap = imap_fixture
DOMAIN = "brand.example"


@pytest.fixture(autouse=True)
def _loopback(monkeypatch):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "email")


def with_mailbox(channel: ChannelContext, imap: ImapServer, mailbox: str) -> ChannelContext:
    """``channel`` reading replies from ``mailbox`` on the test server."""
    settings = {
        **channel.settings,
        "imap_host": "127.0.0.1",
        "imap_port": imap.port,
        "imap_security": "none",
        "imap_username": USER,
        "imap_mailbox": mailbox,
    }
    secrets = {**channel.secrets, "imap_password": PASSWORD}
    return dataclasses.replace(channel, settings=settings, secrets=secrets)


def new_mailbox(imap: ImapServer) -> str:
    name = f"replies-{uuid.uuid4().hex[:8]}"
    conn = imap.client()
    try:
        assert conn.create(name)[0] == "OK"
    finally:
        conn.logout()
    return name


def channel(imap: ImapServer, mailbox: str) -> ChannelContext:
    base = ChannelContext(
        id="c-email", network="email", settings={"from_address": f"news@{DOMAIN}"}
    )
    return with_mailbox(base, imap, mailbox)


def mail(sender: str, text: str, answers: str = "", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"hello@{DOMAIN}"
    message["Subject"] = "Re: Autumn"
    message["Date"] = "Mon, 30 Nov 2026 09:00:00 +0000"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@mail.example>"
    if answers:
        message["In-Reply-To"] = answers
        message["References"] = answers
    message.set_content(text)
    for name, value in headers.items():  # after the content, which resets Content-* headers
        message[name.replace("_", "-")] = value
    return bytes(message)


def ref(key: str) -> PublicationRef:
    return PublicationRef("42", key, "email", external_id=f"email:{key}")


def test_a_reply_to_a_subscriber_s_copy_comes_back_once_without_the_quote(imap) -> None:
    mailbox = new_mailbox(imap)
    ch = channel(imap, mailbox)
    key = uuid.uuid4().hex
    ana_copy = message_id(key, "ana@example.com", DOMAIN)
    imap.deliver(
        mail(
            "Ana <ana@example.com>",
            "Do you ship to Canada?\n\nOn Mon, Brand News wrote:\n> Our autumn collection\n",
            ana_copy,
            Content_Language="en",
        ),
        mailbox,
    )
    # Another address quoting Ana's copy, an unrelated mail and an out-of-office: no replies.
    imap.deliver(mail("bob@example.com", "Me too", ana_copy), mailbox)
    imap.deliver(mail("spam@example.com", "Buy now"), mailbox)
    imap.deliver(
        mail("ana@example.com", "I am away", ana_copy, Auto_Submitted="auto-replied"), mailbox
    )

    network = EmailNetwork()
    page = network.fetch_replies(ch, "", [ref(key), ref("other")])
    assert [m.text for m in page.messages] == ["Do you ship to Canada?"]
    reply = page.messages[0]
    assert (reply.author_handle, reply.author_name) == ("ana@example.com", "Ana")
    assert reply.in_reply_to == f"email:{key}" and reply.language == "en"
    assert reply.published_at.isoformat() == "2026-11-30T09:00:00+00:00"
    assert page.skipped == 0

    again = network.fetch_replies(ch, page.cursor, [ref(key)])
    assert again.messages == () and again.cursor == page.cursor
    imap.deliver(mail("ana@example.com", "Merci !", ana_copy), mailbox)
    later = network.fetch_replies(ch, again.cursor, [ref(key)])
    assert [m.text for m in later.messages] == ["Merci !"]


def test_a_recreated_mailbox_or_a_foreign_cursor_is_stale(imap) -> None:
    ch = channel(imap, new_mailbox(imap))
    network = EmailNetwork()
    page = network.fetch_replies(ch, "", [])
    validity = page.cursor.split(":")[0]
    with pytest.raises(StaleCursor):
        network.fetch_replies(ch, f"{int(validity) + 1}:5", [])
    with pytest.raises(StaleCursor):
        network.fetch_replies(ch, "page-2", [])


def test_a_wrong_password_or_no_mailbox_says_so(imap) -> None:
    network = EmailNetwork()
    ch = channel(imap, "INBOX")
    wrong = dataclasses.replace(ch, secrets={"imap_password": "nope"})
    with pytest.raises(PermanentError) as refused:
        network.fetch_replies(wrong, "", [])
    assert refused.value.code == "imap_login_refused"
    bare = ChannelContext(id="c", network="email", settings={"from_address": "n@b.example"})
    with pytest.raises(PermanentError) as unset:
        network.fetch_replies(bare, "", [])
    assert unset.value.code == "not_configured"
    # Bad mailbox settings are field-level problems when the channel is checked.
    bad = {**ch.settings, "imap_port": 70000, "imap_security": "ssl"}
    fields = {p.field for p in ImapSettings.problems(bad, {})}
    assert fields == {"settings.imap_port", "settings.imap_security", "secrets.imap_password"}


def test_the_imap_client_speaks_to_the_server(imap) -> None:
    conn = imaplib.IMAP4("127.0.0.1", imap.port)
    assert conn.login(USER, PASSWORD)[0] == "OK"
    conn.logout()
