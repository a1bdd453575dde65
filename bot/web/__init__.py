"""The demo website of the company with the chat widget (rasa-webchat) talking to the Rasa bot.

`create_app(settings)` in `bot.web.app` builds the aiohttp application; `python -m bot.web.app` serves it.
"""
