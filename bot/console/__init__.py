"""The agent console: service agents log in, take waiting customers' conversations, reply and hand back.

`create_console_app(settings)` builds the aiohttp sub-application that bot/web/app.py mounts at /console.
The rules (queue, ownership, users) are in bot/handoff, the customer actions in bot/assistant.
"""
from bot.console.app import create_console_app

__all__ = ["create_console_app"]
