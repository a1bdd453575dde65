"""The marketing dashboard: routes under /console/analytics behind the console login (marketer, supervisor).

`install_analytics(app, settings)` adds them to the web app after `bot.console.install_console`.
"""
from bot.analytics.web.routes import install_analytics

__all__ = ["install_analytics"]
