"""Command line: set-up steps, running the assistant, importing customers, benchmarking.

    python -m bot.cli setup            spaCy pipeline, database migration, demo data, training (each only if needed)
    python -m bot.cli run              start action server, Rasa server and web app, restart any that
                                       crashes; Ctrl-C stops all
    python -m bot.cli import-csv FILE  import customers and contracts from a CRM export
    python -m bot.cli benchmark        latency and throughput of the assistant beside a bare `rasa init` bot
    python -m bot.cli handoff-benchmark  live handoffs: queue and message latency, customers and agents at once
    python -m bot.cli analytics-benchmark
                                       time every marketing-dashboard request on 100,000 synthetic
                                       conversations, on SQLite and (--postgres-url) PostgreSQL
    python -m bot.cli evaluate         measure the trained NLU on the test and dev sets (and GermEval if present)
    python -m bot.cli outbox           list the e-mails not delivered yet (--deliver: try them all now)
    python -m bot.cli analytics-consumer
                                       conversation events from the event broker into the analytics facts
                                       (started and supervised by `run`; bot.analytics)
    python -m bot.cli analytics-rebuild-rollup
                                       recompute the dashboard's daily roll-up from the conversation facts
                                       (bot.analytics.rollup; the consumers keep it up to date themselves;
                                       --check: only compare, exit 1 when it differs)
    python -m bot.cli create-user NAME --first-name F --role agent|supervisor|marketer
                                       a login for the agent console; asks for the password twice
                                       (or reads one line from stdin with --password-stdin)
    python -m bot.cli purge-expired    delete transcripts and analytics facts older than their retention periods
                                       (--every 24h: repeat; `run` starts it so)
    python -m bot.cli erase-customer K123456
                                       erase one customer's personal data (right to erasure); prints what was
                                       kept and why
    python -m bot.cli telegram-set-webhook --url https://HOST/webhooks/telegram/webhook
                                       register the Telegram webhook with its secret token (once)
    python -m bot.cli audit-export ID  what the assistant showed and the customer chose in one conversation, with
                                       times, for disputes (--format json|text, --output FILE)
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

from bot.settings import PROJECT_ROOT, Settings, connectable_host, get_settings, public_web_url

logger = logging.getLogger("bot.cli")

MODEL_NAME = "retention"
MODEL_PATH = PROJECT_ROOT / "models" / f"{MODEL_NAME}.tar.gz"
TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "bot/nlp")
PYTHON = sys.executable
ANALYTICS_CONSUMER_NICENESS = 10


def fingerprint(paths: list[Path]) -> str:
    """A hash of the files' names and contents (folders recursively)."""
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(PROJECT_ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _stamp_ok(stamp: Path, value: str) -> bool:
    return stamp.exists() and stamp.read_text().strip() == value


def build_spacy(settings: Settings) -> None:
    from bot.nlp.german_pipeline import save_pipeline

    value = fingerprint([PROJECT_ROOT / "bot" / "nlp" / "german_pipeline.py"])
    stamp = settings.spacy_model_path / ".fingerprint"
    if _stamp_ok(stamp, value):
        print(f"spaCy pipeline up to date: {settings.spacy_model_path}")
        return
    print(f"Building the German spaCy pipeline in {settings.spacy_model_path} ...")
    save_pipeline(settings.spacy_model_path)
    stamp.write_text(value)


def migrate(settings: Settings) -> None:
    from bot.records.migrations import upgrade_to_head

    upgrade_to_head(settings.database_url)
    print("Database schema up to date.")


def seed(settings: Settings, *, count: int) -> None:
    from bot.records.database import transaction
    from bot.records.demo_data import seed_demo_customers

    with transaction(settings.database_url) as session:
        created = seed_demo_customers(session, count=count, seed=42, today=date.today())
    print(f"Demo customers: {created} created." if created else "Demo customers already present.")


def train(*, force: bool = False) -> None:
    """Train when the training inputs changed since the last training (or no model exists)."""
    value = fingerprint([PROJECT_ROOT / p for p in TRAINING_INPUTS])
    stamp = PROJECT_ROOT / "models" / f".{MODEL_NAME}.fingerprint"
    if not force and MODEL_PATH.exists() and _stamp_ok(stamp, value):
        print(f"Model up to date, training skipped: {MODEL_PATH.relative_to(PROJECT_ROOT)}")
        return
    print("Training the assistant (training data, config or NLU code changed) ...", flush=True)
    started = time.monotonic()
    subprocess.run(
        [PYTHON, "-m", "rasa", "train", "--fixed-model-name", MODEL_NAME, "--out", "models", "--force"],
        cwd=PROJECT_ROOT, check=True,
    )
    stamp.write_text(value)
    print(f"Training finished in {time.monotonic() - started:.0f} s.")


def generate_secrets(settings: Settings) -> None:
    """Generate the shared secrets that neither the environment nor the secrets file has (bot.shared_secrets)."""
    from bot.shared_secrets import ensure_secrets_file

    generated = ensure_secrets_file(settings.secrets_file)
    if generated:
        print(f"Secrets generated into {settings.secrets_file} (mode 0600): {', '.join(generated)}")
    else:
        print("Secrets present.")


def setup(settings: Settings, *, demo_customers: int) -> None:
    generate_secrets(settings)
    build_spacy(settings)
    migrate(settings)
    seed(settings, count=demo_customers)
    train()


def service_commands(settings: Settings, *, rasa_port: int, action_port: int,
                     endpoints: Path) -> dict[str, list[str]]:
    """The supervised processes: label -> command line. Every server listens on the configured host only
    (127.0.0.1 by default); Rasa's HTTP API (for the agent console) unless RASA_API_ENABLED=false, always with JWT (see bot.rasa_server)."""
    rasa = [
        PYTHON, "-m", "bot.rasa_server", "run", "--model", str(MODEL_PATH),
        "--interface", settings.rasa_host, "--port", str(rasa_port),
        "--endpoints", str(endpoints), "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        "--cors", *settings.website_origins,
    ]
    if settings.rasa_api_enabled:
        rasa.append("--enable-api")
    return {
        "action server": [PYTHON, "-m", "bot.action_server", "--actions", "actions", "--port", str(action_port)],
        "rasa server": rasa,
        "web app": [PYTHON, "-m", "bot.web.app"],
        "e-mail delivery": [PYTHON, "-m", "bot.outbox_worker"],
        "data retention": [PYTHON, "-m", "bot.cli", "purge-expired", "--every", f"{settings.purge_interval_hours}h"],
        "analytics consumer": [PYTHON, "-m", "bot.cli", "analytics-consumer"],
    }


def service_environment(environ: Mapping[str, str], settings: Settings, *, rasa_port: int) -> dict[str, str]:
    """The children's environment: `environ`, the generated secrets it lacks, and the Rasa URLs for this port."""
    from bot.quiet_warnings import PYTHONWARNINGS
    from bot.shared_secrets import with_secrets

    env = with_secrets({**environ, "PYTHONPATH": str(PROJECT_ROOT)}, settings.secrets_file)
    # Third-party deprecation warnings would drown the addresses printed below (bot/quiet_warnings.py).
    env.setdefault("PYTHONWARNINGS", PYTHONWARNINGS)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Unless configured otherwise, the page's chat widget (and the benchmark) use the Rasa port given here.
    for name, url in (("RASA_URL", f"http://127.0.0.1:{rasa_port}"), ("RASA_PUBLIC_URL", f"http://localhost:{rasa_port}")):
        if not env.get(name):
            env[name] = url
    return env


def readiness_urls(settings: Settings, *, rasa_port: int, action_port: int) -> list[str]:
    """Where the run command checks that the servers answer (Rasa's / answers once the model is loaded)."""
    return [f"http://{connectable_host(settings.rasa_host)}:{rasa_port}/",
            f"http://{connectable_host(settings.action_server_host)}:{action_port}/health",
            f"http://{connectable_host(settings.web_host)}:{settings.web_port}/healthz"]


class ReadinessCheck:
    """Asks the servers at most once a second whether they answer, until all do."""

    def __init__(self, urls: list[str], *, every_s: float = 1.0) -> None:
        self.urls, self.every_s, self._next = list(urls), every_s, 0.0

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def all_up(self) -> bool:
        import httpx

        self._next = time.monotonic() + self.every_s
        while self.urls:
            try:
                if httpx.get(self.urls[0], timeout=1).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
            self.urls.pop(0)
        return True


def address_block(settings: Settings, *, rasa_port: int, action_port: int) -> str:
    """The addresses printed once every server answers."""
    api = (f"  Rasa HTTP API:           on, JWT required (http://{settings.rasa_host}:{rasa_port}/status)\n"
           if settings.rasa_api_enabled else "")
    return ("\nThe assistant is ready:\n"
            f"  Demo website with chat:  http://{settings.web_host}:{settings.web_port}/\n"
            f"  Agent console:           http://{settings.web_host}:{settings.web_port}/console/ "
            "(logins: python -m bot.cli create-user)\n"
            f"  Rasa server (REST API):  http://{settings.rasa_host}:{rasa_port}/webhooks/rest/webhook\n{api}"
            f"  Action server:           http://{settings.action_server_host}:{action_port}/health\n"
            "  E-mail delivery:         retries failed confirmation e-mails (python -m bot.cli outbox)\n"
            f"  Data retention:          deletes expired transcripts ({settings.transcript_retention_days} days) and "
            f"analytics ({settings.analytics_retention_days} days) every {settings.purge_interval_hours} h\n"
            f"  Analytics consumer:      {analytics_source(settings)} -> conversation facts\n"
            "A process that stops is restarted. Press Ctrl-C to stop.\n")


def analytics_source(settings: Settings) -> str:
    """Where the analytics consumer reads the conversation events from (no passwords)."""
    if settings.event_broker_url:
        return f"RabbitMQ queue {settings.event_broker_queue}"
    if settings.analytics_events_url:
        from sqlalchemy.engine import make_url

        return f"Rasa's SQL event broker ({make_url(settings.analytics_events_url).render_as_string(hide_password=True)})"
    return "no event broker (ANALYTICS_EVENTS_URL=off)"


def rebuild_rollup_command(settings: Settings, *, check: bool = False) -> int:
    """Recompute the daily roll-up (bot.analytics.rollup) from every conversation fact, in one transaction; with
    `check`, only say whether it equals the facts (exit 1 when not)."""
    from bot.analytics.rollup import rebuild, recomputed, stored
    from bot.records.database import transaction

    if check:
        with transaction(settings.database_url) as session:
            found, expected = stored(session), recomputed(session)
        wrong = sorted(key for key in set(found) | set(expected) if found.get(key) != expected.get(key))
        if not wrong:
            print(f"Daily roll-up equals the conversation facts ({len(found)} day and channel rows).", flush=True)
            return 0
        print(f"Daily roll-up differs from the conversation facts on {len(wrong)} day and channel rows, e.g. "
              f"{', '.join(f'{day} {channel}' for day, channel in wrong[:5])}; run "
              "`python -m bot.cli analytics-rebuild-rollup` to recompute it.", flush=True)
        return 1
    with transaction(settings.database_url) as session:
        rows = rebuild(session)
    print(f"Daily roll-up rebuilt from the conversation facts: {rows} day and channel rows.", flush=True)
    return 0


def analytics_consumer(settings: Settings) -> int:
    """Run the analytics consumer for the configured broker until SIGINT/SIGTERM.

    It runs at a lower CPU priority (nice 10): on a small machine the conversations come first, and the
    consumer catches up in the pauses (its lag is measured in docs/analytics_pipeline.md).
    """
    try:
        os.nice(ANALYTICS_CONSUMER_NICENESS)
    except OSError:
        logger.info("Could not lower the analytics consumer's CPU priority")
    if settings.event_broker_url:
        from bot.analytics import consumer_rabbitmq

        consumer_rabbitmq.run(settings)
        return 0
    import threading

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if not settings.analytics_events_url:
        logger.info("ANALYTICS_EVENTS_URL=off and no EVENT_BROKER_URL: no events to read.")
        stop.wait()
        return 0
    from bot.analytics import consumer_sql

    consumer_sql.run(settings, stop)
    return 0


def run(settings: Settings, *, rasa_port: int, action_port: int) -> int:
    """Start all the processes and restart any that exits (bot.supervisor); Ctrl-C or SIGTERM stops all."""
    from bot.action_server import MISSING_TOKEN as ACTION_SERVER_TOKEN_MISSING
    from bot.rasa_endpoints import write_endpoints
    from bot.rasa_server import UnsafeServerArguments, secured_arguments
    from bot.shared_secrets import ensure_secrets_file
    from bot.supervisor import supervise_until_signalled

    ensure_secrets_file(settings.secrets_file)  # normally done by the set-up already
    env = service_environment(os.environ, settings, rasa_port=rasa_port)
    settings = Settings.from_env(env)
    # Rasa reaches the action server where it listens (through the loopback when it listens everywhere).
    action_host = connectable_host(settings.action_server_host)
    endpoints = write_endpoints(settings, PROJECT_ROOT / "var" / "endpoints.yml",
                                action_server_url=f"http://{action_host}:{action_port}/webhook")

    commands = service_commands(settings, rasa_port=rasa_port, action_port=action_port, endpoints=endpoints)
    # Refuse at once what the servers would refuse (and then be restarted for, again and again).
    try:
        secured_arguments(commands["rasa server"][3:], env)
    except UnsafeServerArguments as error:
        print(f"Not starting: {error}", file=sys.stderr)
        return 2
    if not settings.action_server_token:
        print(f"Not starting: {ACTION_SERVER_TOKEN_MISSING}", file=sys.stderr)
        return 2
    waiting = ReadinessCheck(readiness_urls(settings, rasa_port=rasa_port, action_port=action_port))

    def print_addresses_once_up() -> None:
        nonlocal waiting
        if waiting is not None and waiting.due() and waiting.all_up():
            print(address_block(settings, rasa_port=rasa_port, action_port=action_port), flush=True)
            waiting = None

    supervise_until_signalled(
        commands, cwd=PROJECT_ROOT, env=env, tick=print_addresses_once_up,
        announce="\nThe assistant is starting (the Rasa server needs about half a minute to load the model); "
                 "the addresses follow once every server answers. Press Ctrl-C to stop.\n")
    return 0


def import_csv(settings: Settings, path: Path) -> int:
    from bot.records.catalog import ensure_catalog
    from bot.records.csv_import import CsvImportError, import_customers_csv
    from bot.records.database import transaction

    try:
        with transaction(settings.database_url) as session:
            ensure_catalog(session)
            report = import_customers_csv(session, path)
    except CsvImportError as error:
        print(f"{error}\nFix these lines in {path} and run the import again.", file=sys.stderr)
        return 2
    print(f"Imported {path}: {report}")
    return 0


def outbox(settings: Settings, *, deliver_now: bool) -> int:
    """Print the e-mails that are not delivered yet; exit 1 while any of them has failed a try."""
    from datetime import datetime, timezone

    from sqlalchemy.exc import SQLAlchemyError

    from bot.assistant.mail import deliver_waiting, waiting_emails
    from bot.records.database import transaction

    try:
        if deliver_now:
            if not settings.smtp_host:
                print("SMTP_HOST is not set: there is no mail server to deliver to.", file=sys.stderr)
                return 2
            result = deliver_waiting(settings, now=datetime.now(timezone.utc), force=True)
            print(f"Delivery tried now: {result.sent} sent, {result.failed} failed.")
        with transaction(settings.database_url) as session:
            waiting = waiting_emails(session)
    except SQLAlchemyError as error:
        print(f"The records database at DATABASE_URL cannot be read: {error.__class__.__name__}", file=sys.stderr)
        return 2
    server = f"{settings.smtp_host}:{settings.smtp_port}" if settings.smtp_host else "none (SMTP_HOST not set)"
    print(f"{len(waiting)} e-mail(s) not delivered; mail server: {server}")
    for email in waiting:
        line = (f"  #{email.id} to {email.recipient} \"{email.subject}\", queued {_berlin(email.created_at)}, "
                f"{email.attempts} tr{'y' if email.attempts == 1 else 'ies'}")
        if email.last_error:
            line += f", next try {_berlin(email.next_attempt_at)}, last error: {email.last_error}"
        print(line)
    stuck = [email for email in waiting if email.last_error]
    if stuck:
        print(f"{len(stuck)} e-mail(s) failed to send: check the mail server; they are retried automatically "
              "while the assistant runs, or now with --deliver.")
    return 1 if stuck else 0


def _berlin(moment: datetime | None) -> str:
    """A stored UTC time as Berlin local time, for people reading the command's output."""
    from datetime import timezone
    from zoneinfo import ZoneInfo

    if moment is None:
        return "now"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return f"{moment.astimezone(ZoneInfo('Europe/Berlin')):%d.%m.%Y %H:%M:%S %Z}"


def read_new_password(*, from_stdin: bool, stdin=None, ask=None) -> str | None:  # type: ignore[no-untyped-def]
    """The new password: the first line of stdin, or typed twice at a prompt (None when the two differ)."""
    if from_stdin:
        return (stdin or sys.stdin).readline().rstrip("\r\n")
    if ask is None:
        from getpass import getpass as ask
    first = ask("Password (at least 12 characters): ")
    if ask("Repeat the password: ") != first:
        return None
    return first


def create_user_command(settings: Settings, *, username: str, first_name: str, role: str,
                        password_stdin: bool) -> int:
    """Create a console login (there is no default account); the password is never echoed or logged."""
    from datetime import timezone

    from sqlalchemy.exc import SQLAlchemyError

    from bot.handoff.users import InvalidUser, create_user
    from bot.records.database import transaction

    password = read_new_password(from_stdin=password_stdin)
    if password is None:
        print("The two passwords differ; nothing was created.", file=sys.stderr)
        return 2
    try:
        with transaction(settings.database_url) as session:
            user = create_user(session, username=username, first_name=first_name, password=password, role=role,
                               now=datetime.now(timezone.utc))
            name = user.username
    except InvalidUser as error:
        print(f"Not created: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        print(f"The records database at DATABASE_URL cannot be written: {error.__class__.__name__} "
              "(run `python -m bot.cli migrate` first?)", file=sys.stderr)
        return 2
    print(f"Created {role} {name!r} ({first_name}). Log in at {public_web_url(settings)}/console/")
    return 0


HELDOUT_PATH = PROJECT_ROOT / "tests" / "nlu_heldout" / "messages.tsv"  # the dev set: used for error analysis
TEST_SET_PATH = PROJECT_ROOT / "tests" / "nlu_test" / "messages.tsv"  # never used for tuning


def evaluate(settings: Settings, *, model: Path, test: Path, dev: Path, markdown: Path, json_path: Path) -> int:
    """Parse the test and dev sets in-process, print the report and write it to docs/ and results/."""
    import asyncio

    from bot.evaluation import DatasetError, render_markdown, run_evaluation, write_report
    from bot.evaluation.parsing import quiet_rasa_logging

    quiet_rasa_logging()
    try:
        report = asyncio.run(run_evaluation(model_path=model, test_path=test, dev_path=dev,
                                            germeval_path=settings.germeval_dev_path,
                                            command="python -m bot.cli evaluate"))
    except (DatasetError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2
    write_report(report, markdown_path=markdown, json_path=json_path)
    print(render_markdown(report))
    print(f"Written: {markdown} and {json_path}")
    return 0


def _event_tables(settings: Settings) -> tuple[list[str], list[str]]:
    """The conversation stores (the tracker store) and the analytics pipeline's event broker database, if any."""
    broker = settings.analytics_events_url  # the analytics pipeline's SQL event broker
    return [settings.tracker_store_url], [broker] if broker and broker != settings.tracker_store_url else []


def purge_expired_command(settings: Settings, *, every: str | None) -> int:
    from bot.privacy.retention import parse_interval, purge_expired, run_every

    stores, brokers = _event_tables(settings)

    def purge() -> None:
        report = purge_expired(records_url=settings.database_url, event_store_urls=stores, broker_urls=brokers,
                               transcript_days=settings.transcript_retention_days,
                               analytics_days=settings.analytics_retention_days)
        print(f"Deleted expired data (transcripts older than {settings.transcript_retention_days} days, "
              f"analytics older than {settings.analytics_retention_days} days): {report.summary()}", flush=True)

    if every is None:
        purge()
        return 0
    try:
        interval_s = parse_interval(every)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    run_every(interval_s, purge, should_stop=lambda: stopping)
    return 0


def erase_customer_command(settings: Settings, customer_number: str) -> int:
    from bot.privacy.erasure import UnknownCustomer, erase_customer

    stores, brokers = _event_tables(settings)
    try:
        report = erase_customer(customer_number, records_url=settings.database_url, event_store_urls=stores,
                                broker_urls=brokers)
    except UnknownCustomer:
        print(f"No customer has the number {customer_number}.", file=sys.stderr)
        return 1
    print(report.text())
    return 0


def audit_export_command(settings: Settings, conversation_id: str, *, output: Path | None, fmt: str) -> int:
    from bot.privacy.audit import audit_export, audit_json, audit_text

    export = audit_export(conversation_id, records_url=settings.database_url,
                          tracker_store_url=settings.tracker_store_url)
    if export is None:
        print(f"No conversation {conversation_id!r} in the tracker store or the records.", file=sys.stderr)
        return 1
    rendered = audit_json(export) if fmt == "json" else audit_text(export)
    if output is None:
        print(rendered)
    else:
        output.write_text(rendered + "\n", encoding="utf-8")
        print(f"Written to {output}")
    return 0


def telegram_set_webhook_command(settings: Settings, *, url: str | None, drop_pending_updates: bool) -> int:
    """Register the Telegram webhook with the secret token (bot.channels.telegram.webhook)."""
    import asyncio

    from bot.channels.telegram.client import TelegramApiError
    from bot.channels.telegram.webhook import WebhookSetupError, set_webhook
    from bot.shared_secrets import with_secrets

    settings = Settings.from_env(with_secrets(os.environ, settings.secrets_file))
    try:
        asyncio.run(set_webhook(settings, url=url, drop_pending_updates=drop_pending_updates))
    except WebhookSetupError as error:
        print(f"Telegram webhook not set: {error}", file=sys.stderr)
        return 2
    except TelegramApiError as error:
        print(f"Telegram refused the webhook: {error.description}", file=sys.stderr)
        return 1
    print(f"Telegram webhook set: {url or settings.telegram_webhook_url} (updates: message, callback_query; "
          "checked with TELEGRAM_WEBHOOK_SECRET)")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m bot.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    setup_parser = commands.add_parser("setup", help="build, migrate, seed and train as needed")
    setup_parser.add_argument("--demo-customers", type=int, default=300)
    commands.add_parser("secrets", help="generate the missing shared secrets into var/secrets.env")
    commands.add_parser("build-spacy", help="build the German spaCy pipeline")
    commands.add_parser("migrate", help="apply database migrations")
    train_parser = commands.add_parser("train", help="train the model if its inputs changed")
    train_parser.add_argument("--force", action="store_true")
    run_parser = commands.add_parser("run", help="run action server, Rasa server and web app")
    run_parser.add_argument("--rasa-port", type=int, default=5005)
    run_parser.add_argument("--action-port", type=int, default=5055)
    # Several Rasa servers (bot/scaling; README "Running on several Rasa servers").
    cluster_parser = commands.add_parser(
        "run-cluster", help="run several Rasa servers (each with an action server) behind haproxy, and the rest once")
    cluster_parser.add_argument("--rasa-port", type=int, default=5005, help="the load balancer's port")
    cluster_parser.add_argument("--action-port", type=int, default=5055, help="the first action server's port")
    cluster_parser.add_argument("--servers", type=int, default=None, help="Rasa servers (default CLUSTER_RASA_SERVERS, 2)")
    scale_bench = commands.add_parser(
        "scale-benchmark", help="load test of two Rasa servers behind haproxy: one vs two servers, a server killed, "
                                "nothing lost, doubled or reordered (bot.scaling.load_test)")
    scale_bench.add_argument("--conversations", type=int, default=200, help="concurrent conversations per round")
    scale_bench.add_argument("--rounds", type=int, default=2, help="rounds per mode (one server, two servers)")
    scale_bench.add_argument("--no-kill", action="store_true", help="leave out the round in which server 1 is killed")
    scale_bench.add_argument("--output", type=Path, default=PROJECT_ROOT / "docs" / "scaleout.md",
                             help="report whose generated section is rewritten (notes outside it stay)")
    import_parser = commands.add_parser("import-csv", help="import customers and contracts from CSV")
    import_parser.add_argument("path", type=Path)
    bench = commands.add_parser(
        "benchmark", help="measure the assistant beside a bare `rasa init` bot over the REST channel (bot.benchmark)")
    bench.add_argument("--url", default=None,
                       help="use the assistant running at this Rasa URL instead of starting one")
    bench.add_argument("--services", choices=("embedded", "environment"), default="embedded",
                       help="for the assistant it starts: fresh SQLite records and conversations (embedded), or "
                            "DATABASE_URL, TRACKER_STORE_URL, LOCK_STORE_URL, EVENT_BROKER_URL from the environment")
    bench.add_argument("--users", type=int, nargs="+", default=[1, 20], help="concurrent conversations per load")
    bench.add_argument("--conversations", type=int, default=40, help="conversations per bot, load and round")
    bench.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    bench.add_argument("--output", type=Path, default=PROJECT_ROOT / "docs" / "benchmark.md",
                       help="report whose generated section is rewritten (notes outside it stay)")
    handoff_bench = commands.add_parser(
        "handoff-benchmark", help="measure live handoffs: customers on socket.io, agents in the console "
                                  "(bot.benchmark_handoff)")
    handoff_bench.add_argument("--services", choices=("embedded", "environment"), default="embedded",
                               help="fresh SQLite records and conversations (embedded), or DATABASE_URL, "
                                    "TRACKER_STORE_URL, LOCK_STORE_URL, EVENT_BROKER_URL from the environment")
    handoff_bench.add_argument("--customers", type=int, default=50, help="concurrent customer conversations")
    handoff_bench.add_argument("--agents", type=int, default=10, help="agents logged into the console")
    handoff_bench.add_argument("--rounds", type=int, default=3, help="scenario runs on the same servers (pooled)")
    handoff_bench.add_argument("--output", type=Path, default=PROJECT_ROOT / "docs" / "handoff_benchmark.md",
                               help="report whose generated section for these services is rewritten")
    analytics_bench = commands.add_parser(
        "analytics-benchmark", help="time every dashboard request on synthetic conversations (SQLite, PostgreSQL)")
    analytics_bench.add_argument("--facts", type=int, default=100_000, help="synthetic conversations to seed")
    analytics_bench.add_argument("--repeat", type=int, default=20, help="timed runs of each request")
    analytics_bench.add_argument("--postgres-url", default=None,
                                 help="an empty PostgreSQL database to seed and measure as well")
    analytics_bench.add_argument("--output", type=Path, default=PROJECT_ROOT / "docs" / "analytics_benchmark.md",
                                 help="report whose generated section is rewritten (notes outside it stay)")
    evaluate_parser = commands.add_parser("evaluate", help="measure the trained NLU on the test and dev sets")
    evaluate_parser.add_argument("--model", type=Path, default=MODEL_PATH)
    evaluate_parser.add_argument("--test", type=Path, default=TEST_SET_PATH, help="never used for tuning")
    evaluate_parser.add_argument("--dev", "--heldout", dest="dev", type=Path, default=HELDOUT_PATH,
                                 help="the held-out set used for error analysis")
    evaluate_parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "docs" / "nlu_evaluation.md")
    evaluate_parser.add_argument("--json", type=Path, default=PROJECT_ROOT / "results" / "nlu_evaluation.json")
    outbox_parser = commands.add_parser("outbox", help="list the e-mails not delivered yet")
    outbox_parser.add_argument("--deliver", action="store_true", help="try every waiting e-mail now")
    commands.add_parser("analytics-consumer",
                        help="conversation events from the event broker into the analytics facts")
    rollup_parser = commands.add_parser("analytics-rebuild-rollup",
                                        help="recompute the dashboard's daily roll-up from the conversation facts")
    rollup_parser.add_argument("--check", action="store_true",
                               help="only compare it with the facts; exit 1 when they differ")
    user_parser = commands.add_parser("create-user", help="create a login for the agent console")
    user_parser.add_argument("username", help="3-80 characters: a-z, digits, '.', '_', '-'")
    user_parser.add_argument("--first-name", required=True, help="shown to customers with the agent's messages")
    user_parser.add_argument("--role", choices=("agent", "supervisor", "marketer"), default="agent")
    user_parser.add_argument("--password-stdin", action="store_true",
                             help="read the password from the first line of stdin instead of asking twice")
    purge_parser = commands.add_parser(
        "purge-expired", help="delete transcripts and analytics facts older than their retention periods")
    purge_parser.add_argument("--every", default=None, help="repeat at this interval (e.g. 24h, 30m) until stopped")
    erase_parser = commands.add_parser("erase-customer", help="erase one customer's personal data (GDPR Art. 17)")
    erase_parser.add_argument("customer_number", help="e.g. K100001")
    audit_parser = commands.add_parser(
        "audit-export", help="what the assistant showed and the customer chose in one conversation, with times")
    audit_parser.add_argument("conversation_id")
    audit_parser.add_argument("--format", choices=("json", "text"), default="json")
    audit_parser.add_argument("--output", type=Path, default=None, help="file to write (default: print)")
    telegram_parser = commands.add_parser(
        "telegram-set-webhook", help="register the Telegram webhook with its secret token (once, after set-up)")
    telegram_parser.add_argument("--url", default=None,
                                 help="public HTTPS URL ending in /webhooks/telegram/webhook (else TELEGRAM_WEBHOOK_URL)")
    telegram_parser.add_argument("--drop-pending-updates", action="store_true",
                                 help="discard the updates Telegram holds for the bot")
    args = parser.parse_args(argv)
    settings = get_settings()

    if args.command == "setup":
        setup(settings, demo_customers=args.demo_customers)
    elif args.command == "secrets":
        generate_secrets(settings)
    elif args.command == "build-spacy":
        build_spacy(settings)
    elif args.command == "migrate":
        migrate(settings)
    elif args.command == "train":
        train(force=args.force)
    elif args.command == "run":
        return run(settings, rasa_port=args.rasa_port, action_port=args.action_port)
    elif args.command == "run-cluster":
        from bot.scaling.cluster import run_cluster

        return run_cluster(settings, balancer_port=args.rasa_port, first_action_port=args.action_port,
                           servers=args.servers or settings.cluster_rasa_servers)
    elif args.command == "scale-benchmark":
        from bot.scaling.load_test import run_benchmark

        return run_benchmark(conversations=args.conversations, rounds=args.rounds, output=args.output,
                             kill=not args.no_kill)
    elif args.command == "import-csv":
        return import_csv(settings, args.path)
    elif args.command == "benchmark":
        from bot.benchmark import run_benchmark

        return run_benchmark(url=args.url, users=args.users, conversations=args.conversations, rounds=args.rounds,
                             services=args.services, output=args.output)
    elif args.command == "handoff-benchmark":
        from bot.benchmark_handoff import run_handoff_benchmark

        return 0 if run_handoff_benchmark(customers=args.customers, agents=args.agents, services=args.services,
                                          rounds=args.rounds, output=args.output).ok else 1
    elif args.command == "analytics-benchmark":
        from bot.analytics.dashboard_benchmark import TARGET_P95_MS
        from bot.analytics.dashboard_benchmark import run as run_analytics_benchmark

        timings = run_analytics_benchmark(facts=args.facts, repeat=args.repeat, postgres_url=args.postgres_url,
                                          output=args.output)
        return 0 if all(t.status == 200 and t.p95_ms <= TARGET_P95_MS for t in timings) else 1
    elif args.command == "outbox":
        return outbox(settings, deliver_now=args.deliver)
    elif args.command == "analytics-consumer":
        return analytics_consumer(settings)
    elif args.command == "analytics-rebuild-rollup":
        return rebuild_rollup_command(settings, check=args.check)
    elif args.command == "create-user":
        return create_user_command(settings, username=args.username, first_name=args.first_name, role=args.role,
                                   password_stdin=args.password_stdin)
    elif args.command == "purge-expired":
        return purge_expired_command(settings, every=args.every)
    elif args.command == "erase-customer":
        return erase_customer_command(settings, args.customer_number)
    elif args.command == "audit-export":
        return audit_export_command(settings, args.conversation_id, output=args.output, fmt=args.format)
    elif args.command == "telegram-set-webhook":
        return telegram_set_webhook_command(settings, url=args.url, drop_pending_updates=args.drop_pending_updates)
    elif args.command == "evaluate":
        return evaluate(settings, model=args.model, test=args.test, dev=args.dev, markdown=args.output,
                        json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
