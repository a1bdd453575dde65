"""The agent console: service agents log in, take waiting customers' conversations, reply and hand back.

`install_console(app, settings)` adds the console's routes under /console to the web app (bot/web/app.py).
The rules (queue, ownership, users) are in bot/handoff, the customer actions in bot/assistant.
"""
from bot.console.app import install_console

__all__ = ["install_console"]
