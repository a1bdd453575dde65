"""`python -m bot.cli run` (what scripts/run.sh ends in): the services on the given ports, a crashed one is
restarted, and only Ctrl-C stops them all.

The command runs for real on free local ports with a fresh, migrated and seeded SQLite database and its
own secrets file. Once the demo page, the Rasa server and the action server answer, one message goes
through Rasa to the action server (so the --action-port and the shared secret really reach Rasa), then
SIGINT stops everything. A second test kills the action server in the middle of a verified customer's
conversation: the customer gets the polite message, the action server comes back by itself and the
conversation carries on (issue 7, finding 4).
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from bot.cli import MODEL_PATH
from bot.rasa_server import ACTION_SERVER_DOWN
from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.migrations import upgrade_to_head
from bot.settings import PROJECT_ROOT
from bot.shared_secrets import SECRET_NAMES
from tests.servers import STARTUP_TIMEOUT_S, free_port

pytestmark = pytest.mark.e2e

STOP_TIMEOUT_S = 60  # the command waits up to 15 s per service before it kills one
# Only the services started here know this name (another assistant may run on the default ports).
COMPANY = "Lauftest Telekom GmbH"


def child_pids(parent: int) -> list[int]:
    """Process ids whose parent is `parent` (from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (name) state ppid ...": the name may contain spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            children.append(int(entry.name))
    return children


def is_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(url: str, command: subprocess.Popen, log: Path, *, contains: str | None = None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if command.poll() is not None:
            pytest.fail(f"bot.cli run exited early (code {command.returncode}):\n{log.read_text()[-3000:]}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200 and (contains is None or contains in response.text):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def start_run_command(tmp_path: Path) -> tuple[subprocess.Popen, Path, str, str, int]:
    """`python -m bot.cli run` on free ports: (command, log, Rasa URL, web URL, action port)."""
    assert MODEL_PATH.exists(), f"no trained model at {MODEL_PATH}: run scripts/test.sh (it trains when needed)"
    database_url = f"sqlite:///{tmp_path / 'records.db'}"
    upgrade_to_head(database_url)
    with transaction(database_url) as session:
        seed_demo_customers(session, count=10, seed=3, today=date.today())
    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    rasa_url, web_url = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{web_port}"
    env = {name: value for name, value in os.environ.items() if name not in SECRET_NAMES}
    env.update({"DATABASE_URL": database_url, "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'conversations.db'}",
                "ANALYTICS_EVENTS_URL": f"sqlite:///{tmp_path / 'analytics_events.db'}",
                "TF_CPP_MIN_LOG_LEVEL": "2", "WEB_HOST": "127.0.0.1", "SECRETS_FILE": str(tmp_path / "secrets.env"),
                "COMPANY_NAME": COMPANY, "WEB_PORT": str(web_port), "RASA_URL": rasa_url, "RASA_PUBLIC_URL": rasa_url})
    log = tmp_path / "run.log"
    # Its own process group, as in a terminal, where Ctrl-C sends SIGINT to the whole foreground group.
    command = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--rasa-port", str(rasa_port), "--action-port", str(action_port)],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    return command, log, rasa_url, web_url, action_port


def wait_until_all_up(command: subprocess.Popen, log: Path, rasa_url: str, web_url: str, action_port: int) -> None:
    wait_for(f"{web_url}/", command, log, contains=f'data-socket-url="{rasa_url}"')
    wait_for(f"{rasa_url}/", command, log)  # answers once the model is loaded (the HTTP API is off)
    wait_for(f"http://127.0.0.1:{action_port}/health", command, log)


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def stop_and_check_everything_stopped(command: subprocess.Popen, log: Path, rasa_url: str, signal_number: int, *,
                                      whole_group: bool = False) -> None:
    """Send the signal to the command (or, like Ctrl-C in a terminal, to its whole process group)."""
    children = child_pids(command.pid)
    if whole_group:
        os.killpg(command.pid, signal_number)
    else:
        command.send_signal(signal_number)
    exit_code = command.wait(timeout=STOP_TIMEOUT_S)
    output = log.read_text()
    assert exit_code == 0, output[-3000:]
    assert "Stopped." in output
    deadline = time.monotonic() + 5
    while any(is_running(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in children if is_running(pid)] == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{rasa_url}/", timeout=2)


def kill_everything(command: subprocess.Popen, children: list[int]) -> None:
    if command.poll() is None:
        for pid in child_pids(command.pid):
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
        os.killpg(command.pid, signal.SIGKILL)
        command.wait(timeout=10)
    for pid in children:
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("interrupt", ["ctrl-c in a terminal", "sigint to the command"])
def test_run_starts_all_services_and_sigint_stops_them(tmp_path: Path, interrupt: str) -> None:
    command, log, rasa_url, web_url, action_port = start_run_command(tmp_path)
    children: list[int] = []
    try:
        wait_until_all_up(command, log, rasa_url, web_url, action_port)
        assert COMPANY in httpx.get(f"{web_url}/").text
        secrets_file = tmp_path / "secrets.env"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600, "run generates the missing secrets"
        children = child_pids(command.pid)
        started = sorted(command_line(pid).split(" -m ")[1].split()[0] for pid in children)
        assert started == ["bot.action_server", "bot.cli", "bot.cli", "bot.outbox_worker", "bot.rasa_server",
                           "bot.web.app"], started
        assert any(command_line(pid).endswith("bot.cli analytics-consumer ") for pid in children)
        assert any(" bot.cli purge-expired " in command_line(pid) for pid in children)

        # The conversation starts in the action server (the disclosure): Rasa must reach this one, on --action-port.
        reply = httpx.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": "run-test", "message": "Hallo"},
                           timeout=30).json()
        assert f"Willkommen beim Kundenservice von {COMPANY}." in " ".join(m.get("text", "") for m in reply), reply

        # Readable start-up output: no third-party deprecation warnings, the addresses once all answer.
        deadline = time.monotonic() + 10
        while "The assistant is ready" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        output = log.read_text()
        assert "The assistant is ready" in output and f"{rasa_url}/webhooks/rest/webhook" in output, output[-3000:]
        assert "Analytics consumer:      Rasa's SQL event broker (sqlite:///" in output, output[-3000:]
        assert "DeprecationWarning" not in output and "FutureWarning" not in output, output[-3000:]

        stop_and_check_everything_stopped(command, log, rasa_url, signal.SIGINT,
                                          whole_group=interrupt == "ctrl-c in a terminal")
    finally:
        kill_everything(command, children)


def test_a_crashed_action_server_is_restarted_and_the_conversation_carries_on(tmp_path: Path) -> None:
    command, log, rasa_url, web_url, action_port = start_run_command(tmp_path)
    children: list[int] = []
    sender = f"restart-{time.monotonic_ns()}"

    def say(text: str) -> str:
        reply = httpx.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
        reply.raise_for_status()
        return " ".join(m.get("text", "") for m in reply.json())

    try:
        wait_until_all_up(command, log, rasa_url, web_url, action_port)
        children = child_pids(command.pid)
        [action_server] = [pid for pid in children if "bot.action_server" in command_line(pid)]
        others = [pid for pid in children if pid != action_server]
        assert len(others) == 5  # Rasa server, web app, e-mail delivery worker, data retention job, analytics consumer

        assert "automatischer Assistent" in say("Hallo")
        say("Wie lange läuft mein Vertrag noch?")
        say("K100001")
        verified = say("10115")
        assert "identifiziert" in verified and "V10000001" in verified, verified

        os.kill(action_server, signal.SIGKILL)
        while is_running(action_server):
            time.sleep(0.05)
        down = say("Wie hoch ist meine letzte Rechnung?")
        assert ACTION_SERVER_DOWN in down, down
        assert "€" not in down

        wait_for(f"http://127.0.0.1:{action_port}/health", command, log)
        output = log.read_text()
        assert "The action server stopped (exit code -9)" in output and "restarting it in 1 s" in output, output[-3000:]
        assert "Restarted the action server (restart 1" in output
        assert "stopping the others" not in output
        assert all(is_running(pid) for pid in others), "Rasa and the website kept running"
        [restarted] = [pid for pid in child_pids(command.pid) if "bot.action_server" in command_line(pid)]
        assert restarted != action_server

        answer = say("Wie hoch ist meine letzte Rechnung?")
        assert "€" in answer and ACTION_SERVER_DOWN not in answer, answer
        assert "Kundennummer" not in answer, "still verified: the conversation carried on"

        children = child_pids(command.pid)
        stop_and_check_everything_stopped(command, log, rasa_url, signal.SIGTERM)  # as from systemd or docker stop
    finally:
        kill_everything(command, children)
