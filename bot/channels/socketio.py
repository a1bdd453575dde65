"""The chat widget's socket.io channel, checking the Origin of browser connections.

Rasa 3.6's `SocketIOInput` creates its socket.io server with `cors_allowed_origins=[]`, which switches
off python-engineio's Origin check: any web page could open a chat in a visitor's browser. Here the
server only accepts requests whose Origin header is one of the website origins (`ALLOWED_ORIGINS`,
default the demo website's own; see `bot.settings`): others get HTTP 400 before a session exists.
Clients that send no Origin (not a browser) are let through, as on the REST channel.

Each user message gets the client's network address as `client_address` in its metadata (the socket
peer, or what a trusted proxy reports; a value the client sent under that key is overwritten). The rest
is Rasa's channel: session persistence, and the widget's `customData` as the metadata.

During a handoff (bot/handoff/rasa_api.py): a typed `/intent` command does not act while an agent owns the
conversation (`handoff_guard`); an agent message (a bot event with `agent_message_id` in its metadata,
appended through Rasa's API) is marked delivered once emitted to a connected widget, and one that found no
widget connected is emitted when the widget asks for its session again (a reload, a new connection).

A session id naming a messaging channel's conversation ("telegram:...", `sender_ids.is_reserved`) gets a new
session instead, and messages sent under it are ignored: the widget can neither write into nor read such a
conversation.

Several Rasa servers (SOCKETIO_MANAGER_URL set): the socket.io server gets a Redis client manager, so an emit
reaches the widget whichever server it is connected to, and "is a widget connected?" is answered from the
servers' shared presence record in Redis (bot/scaling/socketio_cluster.py), not from this process's rooms.

credentials.yml:  bot.channels.socketio.OriginCheckingSocketIOInput: {user_message_evt: ..., ...}
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from redis.exceptions import RedisError
from sanic import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.client_address import client_address, parse_networks, with_client_address
from bot.channels.handoff_guard import HandoffGuard
from bot.channels.sender_ids import is_reserved
from bot.handoff.messages import mark_delivered, undelivered
from bot.handoff.rasa_api import agent_message_text
from bot.records.database import RecordsUnavailable, transaction
from bot.records.models import StaffUser
from bot.scaling.socketio_cluster import ClusterPresence, use_redis_manager
from bot.settings import get_settings

logger = logging.getLogger(__name__)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _connected(sio: Any, room: str, namespace: str = "/") -> bool:
    """Whether any widget is in the conversation's room (session persistence: room = conversation id)."""
    if namespace not in sio.manager.rooms:
        return False
    return next(iter(sio.manager.get_participants(namespace, room)), None) is not None


async def _mark_delivered(message_id: int) -> None:
    def work() -> None:
        with transaction(get_settings().database_url) as session:
            mark_delivered(session, message_id, datetime.now(timezone.utc))
    try:
        await asyncio.to_thread(work)
    except (SQLAlchemyError, RecordsUnavailable) as error:
        logger.warning("Could not mark agent message %s delivered: %s", message_id, error.__class__.__name__)


class AgentMessageSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output; an agent message is emitted only to a connected widget, then marked delivered."""

    def __init__(self, sio: Any, bot_message_evt: str, presence: ClusterPresence | None = None) -> None:
        super().__init__(sio, bot_message_evt)
        self.presence = presence  # several servers: who is connected is known in Redis

    async def _connected(self, room: str) -> bool:
        if self.presence is None:
            return _connected(self.sio, room)
        try:
            return await self.presence.connected(room)
        except RedisError as error:  # unknown: keep it for redelivery when the widget comes back
            logger.warning("Could not look up socket.io presence: %s", error.__class__.__name__)
            return False

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        message_id = kwargs.get("agent_message_id")
        if message_id is None:
            await super().send_text_message(recipient_id, text, **kwargs)
            return
        if not await self._connected(recipient_id):
            logger.info("Agent message %s waits for the customer's widget to reconnect", message_id)
            return
        await super().send_text_message(recipient_id, text, **kwargs)
        await _mark_delivered(int(message_id))


class OriginCheckingSocketIOInput(HandoffGuard, SocketIOInput):
    """Rasa's socket.io channel with the Origin check on and the client address in the metadata."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.allowed_origins: list[str] = list(settings.website_origins)
        self.trusted_proxies = parse_networks(settings.trusted_proxies)
        self.manager_url = settings.socketio_manager_url
        self.presence: ClusterPresence | None = None

    def _client_address(self, environ: dict[str, Any] | None) -> str:
        environ = environ or {}
        request = environ.get("sanic.request")
        # python-engineio's Sanic driver writes 127.0.0.1 into REMOTE_ADDR for every request; the
        # Sanic request knows the real peer.
        peer = request.ip if request is not None else environ.get("REMOTE_ADDR")
        return client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.trusted_proxies)

    def get_output_channel(self) -> OutputChannel | None:
        if self.sio is None:
            return super().get_output_channel()
        return AgentMessageSocketIOOutput(self.sio, self.bot_message_evt, self.presence)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_webhook = self.guarded(super().blueprint, on_new_message)
        sio = self.sio
        assert sio is not None
        if self.manager_url:
            self.presence = use_redis_manager(sio, self.manager_url)
            logger.info("socket.io shares its rooms with the other Rasa servers through Redis (SOCKETIO_MANAGER_URL)")
        sio.eio.cors_allowed_origins = list(self.allowed_origins)
        # Rasa's own CORS handling (sanic-cors with the same origins, `--cors`) already adds the
        # Access-Control-* headers to every response; engine.io adding them too would send each
        # header twice, which browsers reject.
        sio.eio._cors_headers = lambda environ: []  # type: ignore[method-assign]
        logger.info("socket.io accepts browser connections from: %s", ", ".join(self.allowed_origins))

        namespace = self.namespace or "/"
        handle_message = sio.handlers[namespace][self.user_message_evt]

        async def handle_message_with_client_address(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                return
            if self.session_persistence and is_reserved(_text_or_none(data.get("session_id"))):
                logger.warning("A socket.io message for a messaging channel's conversation id was ignored")
                return
            address = self._client_address(sio.get_environ(sid, namespace=namespace))
            data = {**data, self.metadata_key: with_client_address(data.get(self.metadata_key), address)}
            await handle_message(sid, data)

        sio.on(self.user_message_evt, namespace=self.namespace)(handle_message_with_client_address)

        session_request = sio.handlers[namespace]["session_request"]

        async def session_request_with_missed_messages(sid: str, data: Any) -> None:
            if isinstance(data, dict) and is_reserved(_text_or_none(data.get("session_id"))):
                # a messaging channel's conversation ("telegram:..."): never joined; a new session instead
                data = {**data, "session_id": None}
            await session_request(sid, data)
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if self.session_persistence and session_id:
                if self.presence is not None:
                    await self._record_presence(self.presence.join(str(session_id), sid))
                await self._deliver_missed(sid, str(session_id))

        sio.on("session_request", namespace=self.namespace)(session_request_with_missed_messages)

        if self.presence is not None:
            disconnect = sio.handlers[namespace]["disconnect"]
            presence = self.presence

            async def disconnect_and_leave(sid: str) -> None:
                await disconnect(sid)
                await self._record_presence(presence.leave(sid))

            sio.on("disconnect", namespace=self.namespace)(disconnect_and_leave)
        return socketio_webhook

    @staticmethod
    async def _record_presence(change: Awaitable[None]) -> None:
        try:
            await change
        except RedisError as error:
            logger.warning("Could not record socket.io presence: %s", error.__class__.__name__)

    async def _deliver_missed(self, sid: str, conversation_id: str) -> None:
        """Emit the agent messages the customer's widget missed (oldest first), marking each delivered."""
        def load() -> list[tuple[int, str]]:
            """(id, text as shown) of the messages appended to the tracker but not emitted to a widget."""
            with transaction(get_settings().database_url) as session:
                missed = []
                for message in undelivered(session, conversation_id=conversation_id):
                    agent = session.get(StaffUser, message.agent_id)
                    if message.sent_at is not None and agent is not None:
                        missed.append((message.id, agent_message_text(agent.first_name, message.text)))
                return missed
        try:
            missed = await asyncio.to_thread(load)
        except (SQLAlchemyError, RecordsUnavailable) as error:
            logger.warning("Could not look up missed agent messages: %s", error.__class__.__name__)
            return
        if self.sio is None:
            return
        for message_id, text in missed:
            await self.sio.emit(self.bot_message_evt, {"text": text}, room=sid, namespace=self.namespace)
            await _mark_delivered(message_id)
