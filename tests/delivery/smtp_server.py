"""A real SMTP server for tests: aiosmtpd in a thread of its own, on a free loopback port.

It records every message it takes (envelope, parsed content, TLS, who logged in) and can be
told to misbehave: refuse some recipients, refuse at the end of DATA, answer slowly, or drop
the connection after taking a message's content, or take the content of every message after
the first `hold_after` and not answer until released (a sender caught mid-send, every time).
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli_helpers import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        # As a mailbox stores it: line ends as the local convention, not CRLF.
        return cast(EmailMessage, message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=policy.default))


@dataclass
class Recorder:
    """The handler: what arrived, and how to misbehave."""

    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> RCPT answer
    refuse_data: dict[str, str] = field(default_factory=dict)  # recipient -> final DATA answer
    slow_data: float = 0.0  # seconds before the final answer to DATA
    slow_only: set[str] = field(default_factory=set)  # if given, slow for these recipients only
    drop_after_data: bool = False  # take the message, then hang up without answering
    hold_after: int = 0  # if given, take messages past this many but answer only on `release`
    holding: threading.Event = field(default_factory=threading.Event)  # one is being held
    release: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    ehlos: int = 0  # on a plain connection, one per connection: shows the pool reusing them
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.ehlos += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.slow_data and (not self.slow_only or self.slow_only & set(envelope.rcpt_tos)):
            await asyncio.sleep(self.slow_data)
        for rcpt in envelope.rcpt_tos:
            if rcpt in self.refuse_data:
                return self.refuse_data[rcpt]
        auth = session.auth_data
        with self.lock:
            self.received.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=list(envelope.rcpt_tos),
                    raw=bytes(cast(bytes, envelope.original_content or envelope.content)),
                    # STARTTLS sets session.ssl; implicit TLS shows only on the transport.
                    tls=session.ssl is not None
                    or (
                        server.transport is not None
                        and server.transport.get_extra_info("ssl_object") is not None
                    ),
                    login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                )
            )
        if self.hold_after and len(self.received) > self.hold_after:
            self.holding.set()
            await asyncio.to_thread(self.release.wait)  # set from the test's thread
        if self.drop_after_data:
            # Queued, but the client never hears it: the case SMTP cannot make idempotent.
            assert server.transport is not None
            server.transport.abort()
        return "250 2.0.0 queued"

    @property
    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(r.message["Message-ID"]) for r in self.received]


@dataclass
class Server:
    recorder: Recorder
    port: int
    controller: Controller
    authenticator: _Authenticator | None = None


class _Authenticator:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.mechanisms: list[str] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        return AuthResult(success=self.users.get(user) == password, handled=False, auth_data=auth_data)


@contextmanager
def smtp_server(
    recorder: Recorder | None = None,
    *,
    port: int | None = None,
    security: str = "none",
    cert: tuple[Path, Path] | None = None,
    users: dict[str, str] | None = None,
    auth_exclude: list[str] | None = None,
) -> Iterator[Server]:
    """aiosmtpd on 127.0.0.1: plain, STARTTLS (required) or TLS from the first byte; with AUTH
    required when `users` is given. Stopped on exit, so the port is free again."""
    recorder = recorder or Recorder()
    kwargs: dict[str, Any] = {}
    if security != "none":
        assert cert is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert[0]), str(cert[1]))
        if security == "tls":
            kwargs["ssl_context"] = context
        else:
            kwargs |= {"tls_context": context, "require_starttls": True}
    authenticator = None
    if users is not None:
        authenticator = _Authenticator(users)
        # aiosmtpd only counts STARTTLS as TLS for AUTH, and warns when AUTH is required without
        # it: on plain and implicit-TLS servers AUTH is offered, not required, and each message
        # records who logged in, so the tests still see that the client did.
        starttls = security == "starttls"
        kwargs |= {
            "authenticator": authenticator,
            "auth_required": starttls,
            "auth_require_tls": starttls,
            "auth_exclude_mechanism": auth_exclude or [],
        }
    port = port or free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield Server(recorder, port, controller, authenticator)
    finally:
        recorder.release.set()  # a held answer must not keep the server's loop from stopping
        controller.stop()
        # A server-side TLS connection whose client hung up without a close_notify can outlive
        # aiosmtpd's loop; its socket is this test server's, not Pulse's. Collect it here, where
        # that is expected, rather than as an "unclosed socket" error in whichever test runs next.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for `localhost` and 127.0.0.1, valid for a day, made here and now."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pulse-test-smtp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def wait_for(condition: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
