"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the email network's tests and benchmark.

It keeps every message it accepts (envelope and raw bytes) and answers some recipients on
purpose: addresses starting with ``bounce`` get ``550`` at ``RCPT``, ``defer`` get ``451``, and
for ``drop`` the connection is cut after the message body, before the reply.
``security`` is ``none``, ``starttls`` (STARTTLS required before AUTH and MAIL) or ``tls``
(implicit TLS); with ``users`` it demands AUTH (LOGIN and PLAIN). Certificates are made here,
self-signed for ``localhost`` and 127.0.0.1: point ``SSL_CERT_FILE`` at :attr:`cert_file` so the
client's default TLS context trusts it.

Also runnable as a script (``python -m tests.plugins.smtp_server --port N --count-file F``)
for tests that kill the sending process but must keep the server: it appends each accepted
recipient to ``F``, one line per message, flushed at once.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# aiosmtpd logs every command at INFO: too much for a test's output.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class Recorder:
    """The aiosmtpd handler: keeps what it accepts, refuses what it is told to."""

    messages: list[Received] = field(default_factory=list)
    count_file: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("bounce"):
            return "550 5.1.1 No such user here"
        if local.startswith("defer"):
            return "451 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.count_file is not None:
            with self.lock, self.count_file.open("a") as out:
                out.write("EHLO\n")
        return responses

    async def handle_DATA(self, server, session, envelope):
        if any(r.split("@", 1)[0].lower().startswith("drop") for r in envelope.rcpt_tos):
            # The connection dies once the message is on the wire, before any reply: the
            # client cannot know whether it was taken (here it was not).
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        item = Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        with self.lock:
            self.messages.append(item)
            if self.count_file is not None:
                with self.count_file.open("a") as out:
                    out.write("".join(f"{r}\t{len(item.data)}\n" for r in item.rcpt_tos))
        return "250 2.0.0 Queued"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 (``with SmtpServer(...) as server:``)."""

    def __init__(
        self,
        *,
        security: str = "none",
        users: dict[str, str] | None = None,
        cert_dir: Path | None = None,
        count_file: Path | None = None,
    ) -> None:
        self.security = security
        self.users = users or {}
        self.port = free_port()
        self.recorder = Recorder(count_file=count_file)
        self.cert_file: Path | None = None
        self.auth_mechanisms: list[str] = []
        context = None
        if security in ("starttls", "tls"):
            assert cert_dir is not None, "TLS needs a directory for the certificate"
            self.cert_file, key_file = make_certificate(cert_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert_file, key_file)
        kwargs: dict = {"hostname": "127.0.0.1", "port": self.port, "ready_timeout": 10}
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif security == "tls":
            kwargs.update(ssl_context=context, server_hostname="localhost")
        if self.users:
            # aiosmtpd counts only STARTTLS as TLS when it decides to offer AUTH; an implicit
            # TLS connection is encrypted from the first byte, so it need not insist there.
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=security != "tls",
            )
        self.controller = Controller(self.recorder, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        self.auth_mechanisms.append(mechanism)
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode()
            if self.users.get(user) == auth_data.password.decode():
                self.recorder.logins.append((mechanism, user))
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    @property
    def messages(self) -> list[Received]:
        return self.recorder.messages

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def main() -> None:  # pragma: no cover - run as a child process by the benchmark
    """Serve on ``--port`` until killed, appending ``<recipient>\t<bytes>`` per accepted
    message and ``EHLO`` per session to ``--count-file``."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count-file", type=Path, required=True)
    args = parser.parse_args()
    recorder = Recorder(count_file=args.count_file)
    controller = Controller(recorder, hostname="127.0.0.1", port=args.port, ready_timeout=10)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
