"""Confirmation e-mails are never lost: a failed SMTP delivery is retried with backoff until it succeeds."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot import cli
from bot.assistant.mail import deliver, deliver_waiting, queue_email, retry_delay
from bot.records.database import transaction
from bot.records.models import OutboxEmail
from bot.settings import PROJECT_ROOT, Settings
from tests.servers import free_port

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


class Inbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope)
        return "250 OK"


class SmtpServer:
    """A real SMTP server on a fixed local port that can be started after the e-mails were queued."""

    def __init__(self, port: int) -> None:
        self.port, self.inbox, self._controller = port, Inbox(), None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    yield server
    server.stop()


def _settings(database_url: str, smtp_port: int, **extra: str) -> Settings:
    return Settings.from_env({"DATABASE_URL": database_url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
                              "OUTBOX_RETRY_BASE_SECONDS": "30", "OUTBOX_RETRY_MAX_SECONDS": "3600", **extra})


def _queue(database_url: str, recipient: str = "kundin@mail.example") -> int:
    with transaction(database_url) as session:
        return queue_email(session, recipient=recipient, subject="Bestätigung Ihrer Kündigung KB-TEST1234",
                           body="Der Vertrag endet am 31.01.2027.", now=T0).id


def _row(database_url: str, email_id: int) -> OutboxEmail:
    with transaction(database_url) as session:
        return session.get(OutboxEmail, email_id)


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 0), (1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (60, 3600)])
def test_retry_delay_doubles_up_to_the_maximum(attempts: int, seconds: int) -> None:
    assert retry_delay(attempts, base_seconds=30, max_seconds=3600) == timedelta(seconds=seconds)


def test_a_failed_delivery_stays_queued_and_is_retried_after_the_backoff(database_url: str, smtp: SmtpServer) -> None:
    settings = _settings(database_url, smtp.port)
    email_id = _queue(database_url)

    assert deliver(settings, outbox_email_id=email_id, now=T0) is False  # nothing listens: refused
    row = _row(database_url, email_id)
    assert row.sent_at is None and row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at == T0 + timedelta(seconds=30)

    smtp.start()
    # Not due yet: the worker's round does not try it (and does not count a try).
    assert deliver_waiting(settings, now=T0 + timedelta(seconds=10)).sent == 0
    assert _row(database_url, email_id).attempts == 1 and smtp.inbox.messages == []

    assert deliver_waiting(settings, now=T0 + timedelta(seconds=31)).sent == 1
    row = _row(database_url, email_id)
    assert row.sent_at is not None and row.last_error is None and row.attempts == 2
    assert [m.rcpt_tos for m in smtp.inbox.messages] == [["kundin@mail.example"]]
    assert "KB-TEST1234" in smtp.inbox.messages[0].content.decode()
    # Delivered once: later rounds send nothing again.
    assert deliver_waiting(settings, now=T0 + timedelta(hours=2)).sent == 0
    assert len(smtp.inbox.messages) == 1


def test_the_backoff_grows_with_every_failed_try(database_url: str, smtp: SmtpServer) -> None:
    settings = _settings(database_url, smtp.port)
    email_id = _queue(database_url)
    moment = T0
    waits = []
    for _ in range(4):
        deliver_waiting(settings, now=moment)
        row = _row(database_url, email_id)
        waits.append((row.next_attempt_at - moment).total_seconds())
        moment = row.next_attempt_at
    assert waits == [30, 60, 120, 240]
    assert _row(database_url, email_id).attempts == 4


def test_an_email_being_tried_is_not_sent_twice(database_url: str, smtp: SmtpServer) -> None:
    """The claim: while one process tries an e-mail, another one's try does nothing."""
    smtp.start()
    settings = _settings(database_url, smtp.port)
    email_id = _queue(database_url)
    with transaction(database_url) as session:  # another process claimed it a moment ago
        row = session.get(OutboxEmail, email_id)
        row.attempts, row.next_attempt_at = 1, T0 + timedelta(minutes=2)
    assert deliver(settings, outbox_email_id=email_id, now=T0) is False
    assert smtp.inbox.messages == []
    # Once its lease has run out (that process died), the e-mail is tried again.
    assert deliver(settings, outbox_email_id=email_id, now=T0 + timedelta(minutes=3)) is True
    assert len(smtp.inbox.messages) == 1


def test_without_smtp_nothing_is_tried(database_url: str) -> None:
    settings = Settings.from_env({"DATABASE_URL": database_url})
    email_id = _queue(database_url)
    assert deliver(settings, outbox_email_id=email_id, now=T0) is False
    assert _row(database_url, email_id).attempts == 0


def test_the_outbox_command_shows_what_is_stuck_and_delivers_it(sqlite_database_url: str, smtp: SmtpServer,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in {"DATABASE_URL": sqlite_database_url, "SMTP_HOST": "127.0.0.1",
                        "SMTP_PORT": str(smtp.port)}.items():
        monkeypatch.setenv(name, value)
    email_id = _queue(sqlite_database_url)
    deliver(_settings(sqlite_database_url, smtp.port), outbox_email_id=email_id, now=datetime.now(timezone.utc))

    assert cli.main(["outbox"]) == 1
    out = capsys.readouterr().out
    assert "1 e-mail(s) not delivered" in out and f"#{email_id} to kundin@mail.example" in out
    assert "ConnectionRefusedError" in out and "1 try" in out and "failed to send" in out

    smtp.start()
    assert cli.main(["outbox", "--deliver"]) == 0  # --deliver ignores the backoff
    out = capsys.readouterr().out
    assert "1 sent, 0 failed" in out and "0 e-mail(s) not delivered" in out
    assert len(smtp.inbox.messages) == 1


def test_the_outbox_command_explains_an_unreadable_database(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    assert cli.main(["outbox"]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_the_running_worker_delivers_once_the_mail_server_is_back(sqlite_database_url: str,
                                                                  smtp: SmtpServer) -> None:
    """The delivery worker process (supervised by `bot.cli run`) retries until the SMTP server answers."""
    email_id = _queue(sqlite_database_url)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": sqlite_database_url,
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "OUTBOX_POLL_SECONDS": "0.2",
           "OUTBOX_RETRY_BASE_SECONDS": "0.3", "OUTBOX_RETRY_MAX_SECONDS": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "bot.outbox_worker"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while _row(sqlite_database_url, email_id).attempts < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _row(sqlite_database_url, email_id).attempts >= 2, "the worker did not retry the failed e-mail"
        assert _row(sqlite_database_url, email_id).sent_at is None

        smtp.start()
        deadline = time.monotonic() + 30
        while _row(sqlite_database_url, email_id).sent_at is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _row(sqlite_database_url, email_id).sent_at is not None, "not delivered after the server came back"
        time.sleep(1)
        assert len(smtp.inbox.messages) == 1
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    assert "SMTP delivery failed" in output


def test_queued_rows_are_listed_oldest_first(sqlite_database_url: str) -> None:
    first, second = _queue(sqlite_database_url, "a@mail.example"), _queue(sqlite_database_url, "b@mail.example")
    with transaction(sqlite_database_url) as session:
        from bot.assistant.mail import waiting_emails

        assert [e.id for e in waiting_emails(session)] == [first, second]
        assert session.scalars(select(OutboxEmail).where(OutboxEmail.sent_at.is_not(None))).all() == []
