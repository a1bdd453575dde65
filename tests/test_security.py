"""Issue 7, finding 1: the Rasa HTTP API and the action server are not open to whoever reaches the ports.

The attacks of the issue are replayed over real HTTP against the real processes, started as
`python -m bot.cli run` starts them (tests/servers.py uses `bot.cli.service_commands`):

- with the defaults, every process listens on 127.0.0.1 only, Rasa's HTTP API (on for the agent console)
  needs a JWT; with RASA_API_ENABLED=false it is off (writing a
  `verified_customer` slot into a conversation or reading a tracker is refused), the action server
  refuses a made-up tracker without the shared secret, and neither CORS nor the socket.io channel
  accept a foreign website's origin;
- with RASA_API_ENABLED=true the API needs a JWT signed with RASA_JWT_SECRET, and without the secret
  the Rasa server refuses to start.

Both channels put the client's network address into the message metadata (`client_address`), which a
client cannot forge.
"""
from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import socketio

from bot.action_server import is_authorized
from bot.channels.client_address import client_address, parse_networks, with_client_address
from bot.cli import service_commands
from bot.rasa_endpoints import endpoints_config
from bot.rasa_server import UnsafeServerArguments, secured_arguments
from bot.settings import PROJECT_ROOT, Settings
from bot.shared_secrets import SECRET_NAMES, ensure_secrets_file, read_secrets_file, with_secrets
from tests.servers import RunningAssistant, api_token, running_assistant, seeded_records

CONTRACT_QUESTION = "Wann endet mein Vertrag?"
FOREIGN_ORIGIN = "http://angreifer.example"


# --- settings, secrets and command lines -------------------------------------------------------------------

def test_every_server_binds_127_0_0_1_and_the_api_is_on_for_the_console_only_with_jwt(tmp_path: Path) -> None:
    settings = Settings.from_env({})
    assert (settings.rasa_host, settings.action_server_host, settings.web_host) == ("127.0.0.1",) * 3
    commands = service_commands(settings, rasa_port=5005, action_port=5055, endpoints=tmp_path / "e.yml")
    rasa = commands["rasa server"]
    assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"
    assert "--enable-api" in rasa and "*" not in rasa and "--auth-token" not in rasa
    assert rasa[rasa.index("--cors") + 1:rasa.index("--enable-api")] == ["http://127.0.0.1:8000",
                                                                          "http://localhost:8000"]
    # bot.rasa_server adds the JWT secret, and refuses to start the API without one.
    assert secured_arguments(rasa[3:], {"RASA_JWT_SECRET": "s3cret"})[-2:] == ["--jwt-method", "HS256"]
    with pytest.raises(UnsafeServerArguments):
        secured_arguments(rasa[3:], {})
    assert commands["action server"][:3] == [sys.executable, "-m", "bot.action_server"]
    off = Settings.from_env({"RASA_API_ENABLED": "false"})
    assert "--enable-api" not in service_commands(off, rasa_port=5005, action_port=5055,
                                                  endpoints=tmp_path / "e.yml")["rasa server"]

    other = Settings.from_env({"RASA_HOST": "10.0.0.5", "RASA_API_ENABLED": "true",
                               "ALLOWED_ORIGINS": "https://www.nordstern.example, https://shop.nordstern.example/"})
    rasa = service_commands(other, rasa_port=5005, action_port=5055, endpoints=tmp_path / "e.yml")["rasa server"]
    assert rasa[rasa.index("--interface") + 1] == "10.0.0.5" and "--enable-api" in rasa
    assert rasa[rasa.index("--cors") + 1:rasa.index("--enable-api")] == [
        "https://www.nordstern.example", "https://shop.nordstern.example"]


@pytest.mark.parametrize("value", ["*", "www.nordstern.example", "https://www.nordstern.example/chat"])
def test_allowed_origins_must_be_origins(value: str) -> None:
    with pytest.raises(ValueError, match="ALLOWED_ORIGINS"):
        Settings.from_env({"ALLOWED_ORIGINS": value})


def test_the_rasa_server_refuses_an_open_api_a_token_in_the_url_and_cors_for_everyone() -> None:
    base = ["run", "--model", "m.tar.gz", "--port", "5005"]
    assert secured_arguments(base, {}) == base
    with pytest.raises(UnsafeServerArguments, match="RASA_JWT_SECRET"):
        secured_arguments([*base, "--enable-api"], {})
    assert secured_arguments([*base, "--enable-api"], {"RASA_JWT_SECRET": "s3cret"})[-3:] == [
        "--jwt-secret=s3cret", "--jwt-method", "HS256"]
    with pytest.raises(UnsafeServerArguments, match="auth-token"):
        secured_arguments([*base, "--enable-api", "--auth-token", "abc"], {"RASA_JWT_SECRET": "s3cret"})
    with pytest.raises(UnsafeServerArguments, match="ALLOWED_ORIGINS"):
        secured_arguments([*base, "--cors", "*"], {})


def test_a_generated_jwt_secret_that_starts_with_a_dash_reaches_rasa_intact() -> None:
    """secrets.token_urlsafe can start with "-"; as a separate argument Rasa's parser took it for an option."""
    from rasa.__main__ import create_argument_parser

    arguments = secured_arguments(["run", "--enable-api"], {"RASA_JWT_SECRET": "-Xy_secret"})
    assert create_argument_parser().parse_args(arguments).jwt_secret == "-Xy_secret"


def test_rasa_sends_the_action_server_token_from_its_environment_never_written_down() -> None:
    settings = Settings.from_env({"ACTION_SERVER_TOKEN": "do-not-write-me"})
    action_endpoint = endpoints_config(settings)["action_endpoint"]
    assert action_endpoint["headers"] == {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"}
    assert "do-not-write-me" not in str(action_endpoint)


def test_the_action_server_token_check() -> None:
    assert is_authorized("Bearer right-token", "right-token")
    assert is_authorized("bearer right-token ", "right-token")
    for header in (None, "", "right-token", "Bearer wrong-token", "Basic right-token", "Bearer right-token2",
                   "Bearer "):
        assert not is_authorized(header, "right-token"), header


def test_secrets_are_generated_once_into_a_private_file_and_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secrets.env"
    assert "DOWNLOAD_LINK_SECRET" in SECRET_NAMES and "ACTION_SERVER_TOKEN" in SECRET_NAMES
    assert ensure_secrets_file(path, environ={"RASA_JWT_SECRET": "from-env"}) == [
        name for name in SECRET_NAMES if name != "RASA_JWT_SECRET"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = read_secrets_file(path)
    assert "RASA_JWT_SECRET" not in first and len(first["ACTION_SERVER_TOKEN"]) >= 40
    assert first["ACTION_SERVER_TOKEN"] != first["DOWNLOAD_LINK_SECRET"]

    assert ensure_secrets_file(path, environ={"RASA_JWT_SECRET": "from-env"}) == []
    assert read_secrets_file(path) == first, "generated once, then kept"
    assert ensure_secrets_file(path, environ={}) == ["RASA_JWT_SECRET"]
    assert read_secrets_file(path)["ACTION_SERVER_TOKEN"] == first["ACTION_SERVER_TOKEN"]

    env = with_secrets({"ACTION_SERVER_TOKEN": "from-env", "OTHER": "x"}, path)
    assert env["ACTION_SERVER_TOKEN"] == "from-env" and env["OTHER"] == "x"
    assert env["DOWNLOAD_LINK_SECRET"] == first["DOWNLOAD_LINK_SECRET"]
    path.chmod(0o644)
    ensure_secrets_file(path, environ={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_secrets_file_is_ignored_by_git() -> None:
    checked = subprocess.run(["git", "check-ignore", "-q", "var/secrets.env"], cwd=PROJECT_ROOT)
    assert checked.returncode == 0


# --- the client's network address -------------------------------------------------------------------------

def test_client_address_is_the_peer_unless_a_trusted_proxy_forwards() -> None:
    none = parse_networks([])
    proxies = parse_networks(["10.0.0.0/8", "192.168.1.1"])
    assert client_address("203.0.113.9", None, none) == "203.0.113.9"
    assert client_address("203.0.113.9", "198.51.100.1", none) == "203.0.113.9", "anyone can send the header"
    assert client_address("203.0.113.9", "198.51.100.1", proxies) == "203.0.113.9", "peer is not a proxy"
    assert client_address("10.1.2.3", "198.51.100.1", proxies) == "198.51.100.1"
    # A client that sends its own header: the proxies append the real address; the forged part is ignored.
    assert client_address("10.1.2.3", "1.1.1.1, 198.51.100.1, 192.168.1.1", proxies) == "198.51.100.1"
    assert client_address("10.1.2.3", "not-an-address", proxies) == "10.1.2.3"
    assert client_address("::ffff:203.0.113.9", None, none) == "203.0.113.9"
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        parse_networks(["proxy.internal"])


def test_a_client_sent_client_address_is_overwritten() -> None:
    assert with_client_address({"language": "de", "client_address": "1.2.3.4"}, "203.0.113.9") == {
        "language": "de", "client_address": "203.0.113.9"}
    assert with_client_address('{"language": "de"}', "203.0.113.9") == {"language": "de",
                                                                         "client_address": "203.0.113.9"}
    assert with_client_address("not json", "203.0.113.9") == {"client_address": "203.0.113.9"}
    assert with_client_address(["x"], "203.0.113.9") == {"client_address": "203.0.113.9"}


# --- the processes refuse to start unprotected ------------------------------------------------------------

def _without_secrets() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES}
    return {**env, "PYTHONPATH": str(PROJECT_ROOT), "SECRETS_FILE": "/nonexistent/secrets.env"}


def test_the_rasa_server_refuses_to_start_its_api_without_the_jwt_secret() -> None:
    started = subprocess.run([sys.executable, "-m", "bot.rasa_server", "run", "--enable-api", "--port", "1"],
                             cwd=PROJECT_ROOT, env=_without_secrets(), capture_output=True, text=True, timeout=60)
    assert started.returncode == 2
    assert "RASA_JWT_SECRET" in started.stderr


def test_the_action_server_refuses_to_start_without_its_token() -> None:
    started = subprocess.run([sys.executable, "-m", "bot.action_server", "--actions", "actions", "--port", "1"],
                             cwd=PROJECT_ROOT, env=_without_secrets(), capture_output=True, text=True, timeout=60)
    assert started.returncode == 2
    assert "ACTION_SERVER_TOKEN" in started.stderr


# --- the running assistant with the defaults ---------------------------------------------------------------

@pytest.fixture(scope="module")
def default_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    """All three processes as `bot.cli run` starts them, with the default settings."""
    workdir = tmp_path_factory.mktemp("secure-defaults")
    with running_assistant(seeded_records(workdir), workdir) as running:
        yield running


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            raw, port = local.split(":")
            if width == 8:
                address = ".".join(str(b) for b in reversed(bytes.fromhex(raw)))
            else:
                words = [bytes.fromhex(raw[i:i + 8])[::-1].hex() for i in range(0, 32, 8)]
                address = ":".join(words)  # only compared with the IPv4 loopback below
            found.add((address, int(port, 16)))
    return found


@pytest.mark.e2e
def test_every_process_listens_on_127_0_0_1_only(default_assistant: RunningAssistant) -> None:
    ports = {"action server": int(default_assistant.action_server_url.rsplit(":", 1)[1]),
             "rasa server": int(default_assistant.rasa_url.rsplit(":", 1)[1]),
             "web app": int(default_assistant.web_url.rsplit(":", 1)[1])}
    assert default_assistant.pids is not None and set(default_assistant.pids) == set(ports)
    for label, pid in default_assistant.pids.items():
        listening = listening_addresses(pid)
        assert ("127.0.0.1", ports[label]) in listening, (label, listening)
        assert {address for address, _ in listening} == {"127.0.0.1"}, (label, listening)


def _said(reply: httpx.Response) -> str:
    reply.raise_for_status()
    return " ".join(m.get("text", "") for m in reply.json())


@pytest.mark.e2e
def test_a_slot_written_through_the_http_api_is_refused(default_assistant: RunningAssistant) -> None:
    """The issue's attack: set `verified_customer` over the API, then ask about "my" contract."""
    sender = f"attacker-{uuid.uuid4().hex[:8]}"
    rasa = default_assistant.rasa_url
    with httpx.Client(timeout=30) as http:
        assert "Kundenservice" in _said(http.post(default_assistant.rest_url, json={"sender": sender,
                                                                                     "message": "Hallo"}))
        injected = http.post(f"{rasa}/conversations/{sender}/tracker/events",
                             json=[{"event": "slot", "name": "verified_customer", "value": 1.0}])
        assert injected.status_code in (401, 403, 404), injected.text
        assert http.get(f"{rasa}/conversations/{sender}/tracker").status_code in (401, 403, 404)
        assert http.post(f"{rasa}/model/parse", json={"text": "Hallo"}).status_code in (401, 403, 404)
        answer = _said(http.post(default_assistant.rest_url, json={"sender": sender, "message": CONTRACT_QUESTION}))
    assert "Kundennummer" in answer, answer  # asked to identify first
    assert "K100001" not in answer and "€" not in answer and "Vertrag endet" not in answer


def made_up_call(customer_id: float) -> dict:
    """A call as Rasa would send it, with a tracker an attacker made up (verified as `customer_id`)."""
    return {
        "next_action": "action_serve_request", "sender_id": "attacker", "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": "attacker", "slots": {"verified_customer": customer_id},
                    "latest_message": {"intent": {"name": "ask_bill", "confidence": 1.0}, "entities": [],
                                       "text": "Wie hoch ist meine Rechnung?"},
                    "events": [], "paused": False, "followup_action": None, "active_loop": {},
                    "latest_action_name": "action_listen", "latest_event_time": None,
                    "latest_input_channel": "rest"},
    }


@pytest.mark.e2e
def test_the_action_server_refuses_calls_without_the_shared_secret(default_assistant: RunningAssistant) -> None:
    webhook = f"{default_assistant.action_server_url}/webhook"
    token = default_assistant.action_server_token
    with httpx.Client(timeout=30) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token},
                        {"Authorization": f"Bearer {token}x"}):
            refused = http.post(webhook, json=made_up_call(2.0), headers=headers)
            assert refused.status_code == 401, (headers, refused.text)
            assert "Rechnung" not in refused.text and "€" not in refused.text
        assert http.post(f"{webhook}?token={token}", json=made_up_call(2.0)).status_code == 401
        assert http.get(f"{default_assistant.action_server_url}/actions").status_code == 401
        assert http.get(f"{default_assistant.action_server_url}/health").json() == {"status": "ok"}
        # With the secret (what Rasa sends) the action server works as before.
        served = http.post(webhook, json=made_up_call(2.0), headers={"Authorization": f"Bearer {token}"})
    assert served.status_code == 200, served.text
    assert "€" in " ".join(r.get("text") or "" for r in served.json()["responses"])


@pytest.mark.e2e
def test_cors_answers_only_the_website_origins(default_assistant: RunningAssistant) -> None:
    own = default_assistant.web_url
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with httpx.Client(timeout=10) as http:
        foreign = http.options(default_assistant.rest_url, headers={"Origin": FOREIGN_ORIGIN, **preflight})
        assert "access-control-allow-origin" not in foreign.headers
        foreign_post = http.post(default_assistant.rest_url, headers={"Origin": FOREIGN_ORIGIN},
                                 json={"sender": f"cors-{uuid.uuid4().hex[:8]}", "message": "Hallo"})
        assert "access-control-allow-origin" not in foreign_post.headers
        for origin in (own, own.replace("127.0.0.1", "localhost")):
            allowed = http.options(default_assistant.rest_url, headers={"Origin": origin, **preflight})
            assert allowed.headers.get_list("access-control-allow-origin") == [origin]
        polling = http.get(f"{default_assistant.rasa_url}/socket.io/?EIO=4&transport=polling",
                           headers={"Origin": own})
        assert polling.status_code == 200
        assert polling.headers.get_list("access-control-allow-origin") == [own], "once, or browsers reject it"


async def _socketio_chat(rasa_url: str, origin: str | None, metadata: dict) -> str:
    """Connect (from a page at `origin`), say Hallo with the metadata; the session id."""
    session_id = f"sio-{uuid.uuid4().hex[:12]}"
    answered = asyncio.Event()
    client = socketio.AsyncClient(reconnection=False)
    client.on("bot_uttered", lambda data: answered.set())
    await client.connect(rasa_url, socketio_path="/socket.io", transports=["polling"],
                         headers={"Origin": origin} if origin else {}, wait_timeout=10)
    try:
        await client.emit("session_request", {"session_id": session_id})
        await client.emit("user_uttered", {"message": "Hallo", "session_id": session_id, "customData": metadata})
        await asyncio.wait_for(answered.wait(), timeout=30)
    finally:
        await client.disconnect()
    return session_id


async def _stored_user_messages(assistant: RunningAssistant, sender: str) -> list[dict]:
    # The first answer is sent while Rasa is still working on the turn; the tracker is stored after it.
    for _ in range(40):
        stored = assistant.stored_user_messages(sender)
        if stored:
            return stored
        await asyncio.sleep(0.25)
    return []


@pytest.mark.e2e
async def test_socketio_accepts_the_website_and_refuses_a_foreign_origin(default_assistant: RunningAssistant) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _socketio_chat(default_assistant.rasa_url, FOREIGN_ORIGIN, {"language": "de"})
    for origin in (default_assistant.web_url, default_assistant.web_url.replace("127.0.0.1", "localhost")):
        session_id = await _socketio_chat(default_assistant.rasa_url, origin,
                                          {"language": "de", "client_address": "198.51.100.66"})
        [hallo] = await _stored_user_messages(default_assistant, session_id)
        assert hallo["text"] == "Hallo"
        assert hallo["metadata"]["language"] == "de", "the widget's customData still arrives"
        assert hallo["metadata"]["client_address"] == "127.0.0.1", "the client cannot choose its address"


@pytest.mark.e2e
async def test_rest_messages_carry_the_peer_address_not_a_forged_one(default_assistant: RunningAssistant) -> None:
    sender = f"rest-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=30) as http:
        reply = await http.post(default_assistant.rest_url, headers={"X-Forwarded-For": "198.51.100.77"},
                                json={"sender": sender, "message": "Hallo",
                                      "metadata": {"client_address": "198.51.100.66", "language": "de"}})
        reply.raise_for_status()
    [hallo] = await _stored_user_messages(default_assistant, sender)
    assert hallo["metadata"]["client_address"] == "127.0.0.1"
    assert hallo["metadata"]["language"] == "de"


# --- the HTTP API when switched on -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    """Rasa with RASA_API_ENABLED=true (JWT) and this machine as a trusted reverse proxy."""
    workdir = tmp_path_factory.mktemp("secure-api")
    with running_assistant(seeded_records(workdir), workdir, web_app=False, rasa_api=True,
                           extra_env={"TRUSTED_PROXIES": "127.0.0.1"}) as running:
        yield running


@pytest.mark.e2e
def test_the_http_api_needs_a_valid_jwt(api_assistant: RunningAssistant) -> None:
    sender = f"api-{uuid.uuid4().hex[:8]}"
    rasa = api_assistant.rasa_url
    tracker_url = f"{rasa}/conversations/{sender}/tracker"
    inject = [{"event": "slot", "name": "verified_customer", "value": 1.0}]
    assert api_assistant.jwt_secret
    forged = api_token("not-the-secret-but-just-as-long-as-one")
    with httpx.Client(timeout=30) as http:
        _said(http.post(api_assistant.rest_url, json={"sender": sender, "message": "Hallo"}))
        for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": "Bearer x.y.z"}):
            assert http.get(tracker_url, headers=headers).status_code == 401
            assert http.post(f"{tracker_url}/events", json=inject, headers=headers).status_code == 401
        assert http.get(f"{tracker_url}?token={api_assistant.jwt_secret}").status_code == 401
        expired = api_token(api_assistant.jwt_secret, lifetime_s=-3600)  # sanic-jwt allows 60 s of clock skew
        assert http.get(tracker_url, headers={"Authorization": f"Bearer {expired}"}).status_code == 401
        # A conversation's own user token reaches that conversation only.
        own = api_assistant.api_headers(username=sender, role="user")
        assert http.get(tracker_url, headers=own).status_code == 200
        assert http.get(f"{rasa}/conversations/someone-else/tracker", headers=own).status_code == 403

        tracker = http.get(tracker_url, headers=api_assistant.api_headers())
        assert tracker.status_code == 200
        assert tracker.json()["slots"]["verified_customer"] is None
        assert http.get(f"{rasa}/status", headers=api_assistant.api_headers()).status_code == 200


@pytest.mark.e2e
def test_behind_a_trusted_proxy_the_forwarded_client_address_is_used(api_assistant: RunningAssistant) -> None:
    sender = f"proxy-{uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=30) as http:
        _said(http.post(api_assistant.rest_url, headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.50"},
                        json={"sender": sender, "message": "Hallo", "metadata": {"client_address": "1.2.3.4"}}))
        tracker = http.get(f"{api_assistant.rasa_url}/conversations/{sender}/tracker",
                           headers=api_assistant.api_headers()).json()
    assert tracker["latest_message"]["metadata"]["client_address"] == "203.0.113.50"
