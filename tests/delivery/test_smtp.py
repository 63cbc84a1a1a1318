"""The SMTP channel against a real aiosmtpd server: what arrives, and how each failure is called.

The classification is what keeps e-mail at most once: a failure before DATA is safe to retry
(`Deferred(maybe_sent=False)`), one after the content went out is `maybe_sent=True` (the
dispatcher makes it `unknown`, never a resend), and a 5xx for one recipient fails only that
message.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulsecrm.config import Settings
from pulsecrm.delivery.channels import Deferred, OutboundMessage, Rejected, SendOutcome, Sent
from pulsecrm.delivery.channels.smtp import SmtpChannel, SmtpConfig, smtp_channel
from tests.cli_helpers import free_port
from tests.delivery.smtp_server import Recorder, self_signed_certificate, smtp_server

FROM = "Pulse Shop <news@shop.example>"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def trusting(cert: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts the test's own certificate, and verifies it as usual."""
    return ssl.create_default_context(cafile=str(cert[0]))


def channel(port: int, **overrides: Any) -> SmtpChannel:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": FROM,
        "pool_size": 4,
        "timeout": 5.0,
    }
    values.update(overrides)
    return SmtpChannel(SmtpConfig(**values))


def message(i: int, **overrides: Any) -> OutboundMessage:
    values: dict[str, Any] = {
        "delivery_id": 1000 + i,
        "campaign_id": 7,
        "channel": "email",
        "to": f"person{i}@example.com",
        # Non-ASCII text and a line starting with a dot (which SMTP must escape) on the way.
        "body": f"Hello person {i} <you> & co. ₹ 500\n.dot line\n\nSecond paragraph.",
        "subject": f"Offer {i}" if i % 2 else f"Offer {i}: für dich ✓",
        "unsubscribe_url": f"http://pulse.example/u/{1000 + i}",
    }
    values.update(overrides)
    return OutboundMessage(**values)


def by_id(outcomes: list[SendOutcome]) -> dict[int, SendOutcome]:
    ids = [o.delivery_id for o in outcomes]
    assert len(ids) == len(set(ids)), "one outcome per message"
    return dict(zip(ids, outcomes, strict=True))


@pytest.fixture
def server() -> Iterator[Any]:
    with smtp_server() as s:
        yield s


# --- what arrives -------------------------------------------------------------------------------


async def test_a_batch_arrives_once_each_with_its_headers_and_both_parts(server: Any) -> None:
    smtp = channel(server.port)
    batch = [message(i) for i in range(40)]
    batch.append(message(40, html="<p>Hi <b>there</b></p>", unsubscribe_url=None, subject=None))
    try:
        outcomes = by_id(await smtp.send_batch(batch))
    finally:
        await smtp.close()

    assert outcomes == {
        m.delivery_id: Sent(m.delivery_id, f"<pulse-{m.delivery_id}.7@shop.example>") for m in batch
    }
    received = {str(r.message["Message-ID"]): r for r in server.recorder.received}
    assert Counter(server.recorder.message_ids) == Counter(
        o.message_id for o in outcomes.values() if isinstance(o, Sent)
    )
    for m in batch:
        r = received[f"<pulse-{m.delivery_id}.7@shop.example>"]
        mail = r.message
        assert r.mail_from == "news@shop.example" and r.rcpt_tos == [m.to] and not r.tls
        assert mail["From"] == FROM and mail["To"] == m.to
        assert mail["Subject"] == (m.subject or "")
        assert mail["Date"] is not None
        assert mail.get_content_type() == "multipart/alternative"
        text, html = (part for part in mail.iter_parts())
        assert text.get_content_type() == "text/plain" and text.get_content().rstrip("\n") == m.body
        assert html.get_content_type() == "text/html"
        if m.html is None:
            # Derived from the text: escaped, one paragraph per blank-line block.
            expected = f"<p>Hello person {m.delivery_id - 1000} &lt;you&gt; &amp; co. ₹ 500<br>.dot line</p>"
            assert expected in html.get_content()
            assert "<p>Second paragraph.</p>" in html.get_content()
        else:
            assert html.get_content().rstrip("\n") == m.html
        if m.unsubscribe_url:
            assert mail["List-Unsubscribe"] == f"<{m.unsubscribe_url}>"
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        else:
            assert "List-Unsubscribe" not in mail and "List-Unsubscribe-Post" not in mail


async def test_connections_are_pooled_across_batches(server: Any) -> None:
    smtp = channel(server.port, pool_size=2)
    try:
        for part in range(3):
            outcomes = await smtp.send_batch([message(part * 10 + i) for i in range(10)])
            assert all(isinstance(o, Sent) for o in outcomes)
        # Batches in flight at once share the same pool instead of opening more connections.
        together = await asyncio.gather(
            *(smtp.send_batch([message(b * 10 + i) for i in range(10)]) for b in (3, 4, 5))
        )
        assert all(isinstance(o, Sent) for outcomes in together for o in outcomes)
    finally:
        await smtp.close()
    assert len(server.recorder.received) == 60
    assert server.recorder.ehlos <= 2  # two lanes, each on one connection for all six batches


async def test_a_pooled_connection_the_server_dropped_is_replaced() -> None:
    port = free_port()
    smtp = channel(port, pool_size=2)
    try:
        with smtp_server(port=port) as first:
            assert all(isinstance(o, Sent) for o in await smtp.send_batch([message(i) for i in range(4)]))
        # The server restarted: every idle connection in the pool is now dead.
        with smtp_server(port=port) as second:
            outcomes = await smtp.send_batch([message(i) for i in range(4, 10)])
            assert all(isinstance(o, Sent) for o in outcomes), outcomes
            assert len(second.recorder.received) == 6
        assert len(first.recorder.received) == 4
    finally:
        await smtp.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"subject": "Hi\r\nBcc: victim@example.com"},
        {"subject": "Hi\nBcc: victim@example.com"},
        {"unsubscribe_url": "http://x/u\r\nBcc: victim@example.com"},
        {"to": "victim@example.com\r\nBcc: other@example.com"},
        {"to": "jürgen@example.com"},
        {"to": "a@b@example.com"},
        {"to": "Someone <a@example.com>"},
    ],
)
async def test_a_message_that_would_break_its_headers_fails_alone(server: Any, bad: dict[str, str]) -> None:
    smtp = channel(server.port)
    try:
        outcomes = by_id(await smtp.send_batch([message(1), message(2, **bad), message(3)]))
    finally:
        await smtp.close()
    assert isinstance(outcomes[1002], Rejected) and "could not build" in outcomes[1002].reason
    assert isinstance(outcomes[1001], Sent) and isinstance(outcomes[1003], Sent)
    received = server.recorder.received
    assert sorted(r.rcpt_tos[0] for r in received) == ["person1@example.com", "person3@example.com"]
    assert all("Bcc" not in r.message for r in received)


# --- security and login -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("security", "mechanism"), [("starttls", "LOGIN"), ("tls", "PLAIN"), ("none", "PLAIN"), ("tls", "LOGIN")]
)
async def test_tls_starttls_and_auth(cert: tuple[Path, Path], security: str, mechanism: str) -> None:
    other = "LOGIN" if mechanism == "PLAIN" else "PLAIN"
    users = {"pulse": "s3cret pass"}
    with smtp_server(security=security, cert=cert, users=users, auth_exclude=[other]) as s:
        smtp = channel(
            s.port, security=security, username="pulse", password="s3cret pass", tls_context=trusting(cert)
        )
        try:
            assert await smtp.probe() is None
            outcomes = await smtp.send_batch([message(i) for i in range(5)])
        finally:
            await smtp.close()
        assert all(isinstance(o, Sent) for o in outcomes), outcomes
        assert len(s.recorder.received) == 5
        assert {(r.tls, r.login) for r in s.recorder.received} == {(security != "none", "pulse")}
        assert s.authenticator is not None and set(s.authenticator.mechanisms) == {mechanism}


async def test_a_wrong_password_defers_everything_and_probe_says_so(cert: tuple[Path, Path]) -> None:
    with smtp_server(security="starttls", cert=cert, users={"pulse": "right"}) as s:
        smtp = channel(
            s.port, security="starttls", username="pulse", password="wrong", tls_context=trusting(cert)
        )
        try:
            reason = await smtp.probe()
            outcomes = await smtp.send_batch([message(i) for i in range(6)])
        finally:
            await smtp.close()
    assert reason is not None and "login refused" in reason and "535" in reason
    assert all(isinstance(o, Deferred) and not o.maybe_sent and "login refused" in o.reason for o in outcomes)
    assert len(outcomes) == 6 and s.recorder.received == []


async def test_an_untrusted_certificate_is_refused_before_anything_is_sent(cert: tuple[Path, Path]) -> None:
    with smtp_server(security="tls", cert=cert) as s:
        smtp = channel(s.port, security="tls")  # the system's trust store does not know it
        try:
            reason = await smtp.probe()
            outcomes = await smtp.send_batch([message(1), message(2)])
        finally:
            await smtp.close()
    assert reason is not None and "CERTIFICATE_VERIFY_FAILED" in reason
    assert all(isinstance(o, Deferred) and not o.maybe_sent for o in outcomes)
    assert s.recorder.received == []


async def test_starttls_is_required_when_configured_not_guessed() -> None:
    with smtp_server() as s:  # a server that offers no STARTTLS
        smtp = channel(s.port, security="starttls")
        try:
            outcomes = await smtp.send_batch([message(1)])
        finally:
            await smtp.close()
    assert isinstance(outcomes[0], Deferred) and not outcomes[0].maybe_sent
    assert s.recorder.received == []


# --- refusals and breakage ----------------------------------------------------------------------


async def test_a_550_for_one_recipient_rejects_only_that_message() -> None:
    recorder = Recorder(
        refuse={
            "person3@example.com": "550 5.1.1 no such mailbox",
            "person5@example.com": "450 4.2.1 try later",
        }
    )
    with smtp_server(recorder) as s:
        smtp = channel(s.port, pool_size=1)
        try:
            outcomes = by_id(await smtp.send_batch([message(i) for i in range(8)]))
        finally:
            await smtp.close()
    rejected, deferred = outcomes.pop(1003), outcomes.pop(1005)
    assert isinstance(rejected, Rejected) and "550 5.1.1 no such mailbox" in rejected.reason
    assert isinstance(deferred, Deferred) and not deferred.maybe_sent and "450" in deferred.reason
    assert all(isinstance(o, Sent) for o in outcomes.values())
    assert sorted(r.rcpt_tos[0] for r in s.recorder.received) == sorted(
        f"person{i}@example.com" for i in (0, 1, 2, 4, 6, 7)
    )
    assert s.recorder.ehlos == 1  # the refusals did not cost the connection


async def test_a_refusal_at_the_end_of_data_is_final_or_temporary_by_its_code() -> None:
    recorder = Recorder(
        refuse_data={"person1@example.com": "554 5.7.1 spam", "person2@example.com": "451 4.3.0 busy"}
    )
    with smtp_server(recorder) as s:
        smtp = channel(s.port, pool_size=1)
        try:
            outcomes = by_id(await smtp.send_batch([message(i) for i in range(4)]))
        finally:
            await smtp.close()
    assert isinstance(outcomes[1001], Rejected) and "554" in outcomes[1001].reason
    assert isinstance(outcomes[1002], Deferred) and not outcomes[1002].maybe_sent
    assert isinstance(outcomes[1000], Sent) and isinstance(outcomes[1003], Sent)


async def test_a_connection_dropped_after_data_may_have_sent() -> None:
    recorder = Recorder(drop_after_data=True)
    with smtp_server(recorder) as s:
        smtp = channel(s.port, pool_size=2)
        try:
            outcomes = await smtp.send_batch([message(i) for i in range(4)])
            # The server did take them: exactly why they must not be sent again.
            assert len(s.recorder.received) == 4
            assert all(isinstance(o, Deferred) and o.maybe_sent for o in outcomes), outcomes
            recorder.drop_after_data = False
            # The broken connections were dropped: the next batch goes out on fresh ones.
            after = await smtp.send_batch([message(i) for i in range(10, 14)])
            assert all(isinstance(o, Sent) for o in after), after
        finally:
            await smtp.close()


async def test_no_final_answer_in_time_may_have_sent() -> None:
    with smtp_server(Recorder(slow_data=1.5)) as s:
        smtp = channel(s.port, timeout=0.5)
        try:
            outcomes = await smtp.send_batch([message(1), message(2)])
        finally:
            await smtp.close()
    assert all(isinstance(o, Deferred) and o.maybe_sent and "after DATA" in o.reason for o in outcomes)


async def test_a_cancelled_send_leaves_no_half_used_connection_in_the_pool() -> None:
    recorder = Recorder(slow_data=1.0, slow_only={"person2@example.com"})
    with smtp_server(recorder) as s:
        smtp = channel(s.port, pool_size=1)
        try:
            # Message 1 goes out; message 2 waits for its final answer on the same connection.
            task = asyncio.create_task(smtp.send_batch([message(1), message(2)]))
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            recorder.slow_data = 0
            outcomes = await smtp.send_batch([message(3)])
        finally:
            await smtp.close()
    assert isinstance(outcomes[0], Sent), outcomes
    assert s.recorder.ehlos == 2  # the interrupted connection was dropped, not reused


async def test_a_server_that_is_down_defers_everything_and_probe_says_why() -> None:
    smtp = channel(free_port(), pool_size=3)  # nothing listens there
    try:
        started = time.monotonic()
        outcomes = await smtp.send_batch([message(i) for i in range(500)])
        elapsed = time.monotonic() - started
        reason = await smtp.probe()
    finally:
        await smtp.close()
    assert len(by_id(outcomes)) == 500
    assert all(isinstance(o, Deferred) and not o.maybe_sent and "unreachable" in o.reason for o in outcomes)
    assert elapsed < 2, "one connect attempt per lane, not one per message"
    assert reason is not None and "unreachable" in reason and "127.0.0.1" in reason


# --- configuration ------------------------------------------------------------------------------


def test_the_channel_is_built_from_the_settings() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        email_transport="smtp",
        smtp_host="mail.example",
        smtp_port=465,
        smtp_security="tls",
        smtp_username="u",
        smtp_password="p",  # type: ignore[arg-type]
        smtp_from="Shop <shop@mail.example>",
        smtp_pool_size=3,
        smtp_timeout_seconds=7,
    )
    smtp = smtp_channel(settings)
    assert (smtp.name, smtp.idempotent, smtp.gives_receipts) == ("smtp", False, False)
    c = smtp.config
    assert (c.host, c.port, c.security, c.username, c.password, c.pool_size, c.timeout) == (
        "mail.example",
        465,
        "tls",
        "u",
        "p",
        3,
        7,
    )
    assert smtp.message_id(message(5)) == "<pulse-1005.7@mail.example>"
    # Left empty, as .env.example has them: no AUTH at all rather than a login as "".
    unset = smtp_channel(Settings(_env_file=None, smtp_username="", smtp_password=""))  # type: ignore[call-arg, arg-type]
    assert (unset.config.username, unset.config.password) == (None, None)
    with pytest.raises(ValueError, match="no e-mail address"):
        SmtpChannel(SmtpConfig(host="h", port=25, sender="Just a name"))
