"""One SMTP session for a send, and what each reply means for the recipient at hand.

The transaction for one recipient is spelled out (``MAIL``, ``RCPT``, ``DATA``) instead of
``sendmail``, because *where* a failure happens decides what Kairos may do next:

* before ``DATA`` nothing was handed over: the recipient goes back to pending (:class:`NotSent`);
* a ``RCPT`` reply ``5xx`` refuses the address for good (a bounce), ``4xx`` asks to try later;
* once the message body is on the wire, a dropped connection or a time-out leaves the message
  *in doubt* (:class:`InDoubt`): the server may have queued it. It is never resent.

The server's address is resolved and checked first: private and loopback addresses are refused
unless the operator lists ``email`` in ``KAIROS_ALLOW_PRIVATE_NETWORKS`` (a workspace must not
reach the deployment's internal hosts through a channel setting); the connection then goes to
the checked address while TLS verifies the host *name*.
"""

from __future__ import annotations

import contextlib
import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass

from plugins.email.settings import EmailSettings
from publishers import (
    CredentialsExpired,
    PermanentError,
    TransientError,
    is_public_address,
    private_allowed,
)

NETWORK_KEY = "email"


class NotSent(Exception):
    """The connection failed before the message was handed over (safe to try again)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class InDoubt(Exception):
    """The connection failed while or after the message was handed over."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server said about one recipient's message."""

    outcome: str  # "sent", "bounced", "deferred", "refused"
    code: int
    text: str


def _text(message: bytes | str) -> str:
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return " ".join(message.split())[:300]


class _Pinned:
    """Connect to a checked address while keeping the host name for TLS (SNI, certificate)."""

    address: str = ""

    def _get_socket(self, host, port, timeout):
        return socket.create_connection((self.address, port), timeout, self.source_address)


class _SMTP(_Pinned, smtplib.SMTP):
    pass


class _SMTPS(_Pinned, smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        raw = socket.create_connection((self.address, port), timeout, self.source_address)
        return self.context.wrap_socket(raw, server_hostname=self._host)


def resolve(settings: EmailSettings) -> str:
    """The SMTP server's address to connect to, checked against private ranges."""
    return resolve_host(settings.host, settings.port, "SMTP")


def resolve_host(host: str, port: int, protocol: str) -> str:
    """The address of a mail server (SMTP out, IMAP for replies), resolved once and checked
    against private ranges before any connection, so a hostile host name cannot reach the
    operator's network."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransientError(
            f"The {protocol} host {host!r} could not be resolved.", code="dns_failure"
        ) from exc
    addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]
    if not addresses:
        raise TransientError(f"The {protocol} host {host!r} has no address.", code="dns_failure")
    if not private_allowed(NETWORK_KEY):
        for address in addresses:
            if not is_public_address(ipaddress.ip_address(address)):
                raise PermanentError(
                    f"The {protocol} host {host!r} resolves to a private or reserved address "
                    f"({address}); the operator can allow it with "
                    "KAIROS_ALLOW_PRIVATE_NETWORKS=email.",
                    code="address_refused",
                )
    return addresses[0]


class Session:
    """A connection to the channel's SMTP server, opened on first use and reused.

    Counts what it does (``connections``, ``commands``, ``bytes_sent``) for the benchmark.
    """

    def __init__(self, settings: EmailSettings, local_hostname: str | None = None) -> None:
        self.settings = settings
        self.local_hostname = local_hostname
        self.smtp: smtplib.SMTP | None = None
        self.sent_on_connection = 0
        self.connections = 0
        self.commands = 0
        self.bytes_sent = 0

    # --- connecting ----------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect, say EHLO, secure the connection, authenticate: everything but sending.

        :raises CredentialsExpired: the server refused the user name or password.
        :raises PermanentError: the server cannot do what the settings ask (no STARTTLS, a
            certificate that does not verify, AUTH unsupported).
        :raises TransientError: the server is unreachable or busy right now.
        """
        s = self.settings
        address = resolve(s)
        context = ssl.create_default_context()
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = _SMTPS(
                    local_hostname=self.local_hostname, timeout=s.timeout, context=context
                )
            else:
                smtp = _SMTP(local_hostname=self.local_hostname, timeout=s.timeout)
            smtp.address = address  # type: ignore[attr-defined]
            smtp._host = s.host  # the name TLS verifies (smtplib sets it only in __init__)
            smtp.connect(s.host, s.port)
            self.commands += 1
            smtp.ehlo()
            self.commands += 1
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise PermanentError(
                        "The SMTP server does not offer STARTTLS; choose security 'tls' or a "
                        "server that encrypts.",
                        code="starttls_unavailable",
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
                self.commands += 2
            if s.username:
                smtp.login(s.username, s.password)
                self.commands += 1
        except smtplib.SMTPAuthenticationError as exc:
            raise CredentialsExpired(
                "The SMTP server refused the user name or password.",
                code="auth_failed",
                detail=f"{exc.smtp_code} {_text(exc.smtp_error)}",
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentError(
                "The SMTP server does not support authentication on this connection.",
                code="auth_unsupported",
                detail=str(exc),
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise PermanentError(
                f"The SMTP server's certificate does not verify for {s.host!r}.",
                code="tls_certificate",
                detail=str(exc),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            error = PermanentError if 500 <= exc.smtp_code < 600 else TransientError
            raise error(
                f"The SMTP server refused the connection ({exc.smtp_code}).",
                code="smtp_refused",
                detail=_text(exc.smtp_error),
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientError(
                f"Could not connect to the SMTP server {s.host}:{s.port}.",
                code="connection_failed",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        self.smtp = smtp
        self.sent_on_connection = 0
        self.connections += 1

    def close(self) -> None:
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
            self.commands += 1
        except (smtplib.SMTPException, OSError):
            self.smtp.close()
        self.smtp = None

    # --- sending -------------------------------------------------------------------------------

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        """One message to one recipient.

        :raises NotSent: the connection failed before the message was handed over.
        :raises InDoubt: it failed after (the server may have the message).
        :raises PermanentError: the server refused the *sender* (every message would fail).
        """
        limit = self.settings.messages_per_connection
        if self.smtp is not None and limit and self.sent_on_connection >= limit:
            self.close()
        if self.smtp is None:
            self.connect()
        smtp = self.smtp
        assert smtp is not None
        try:
            code, text = smtp.mail(sender)
            self.commands += 1
            if code != 250:
                self._reset()
                if 500 <= code < 600:
                    raise PermanentError(
                        f"The SMTP server refuses the sender {sender} ({code}).",
                        code="sender_refused",
                        detail=_text(text),
                    )
                raise NotSent(smtplib.SMTPSenderRefused(code, text, sender))
            code, text = smtp.rcpt(recipient)
            self.commands += 1
            if code not in (250, 251):
                self._reset()
                outcome = "bounced" if 500 <= code < 600 else "deferred"
                return Reply(outcome, code, _text(text))
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
            self._drop()
            raise NotSent(exc) from exc
        try:
            code, text = smtp.data(data)
            self.commands += 1
            self.bytes_sent += len(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing handed over
            self._reset()
            self.commands += 1
            outcome = "refused" if 500 <= exc.smtp_code < 600 else "deferred"
            return Reply(outcome, exc.smtp_code, _text(exc.smtp_error))
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise InDoubt(f"{type(exc).__name__}: {exc}") from exc
        self.sent_on_connection += 1
        if code == 250:
            return Reply("sent", code, _text(text))
        if code == 421:  # the server is closing: the message was not accepted
            self._drop()
            return Reply("deferred", code, _text(text))
        return Reply("refused" if 500 <= code < 600 else "deferred", code, _text(text))

    def _reset(self) -> None:
        try:
            assert self.smtp is not None
            self.smtp.rset()
            self.commands += 1
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(OSError):
                self.smtp.close()
        self.smtp = None
