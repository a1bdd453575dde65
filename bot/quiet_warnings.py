"""Keep the servers' output readable: third-party deprecation warnings are not shown.

Rasa 3.6 and its dependencies (pyparsing, SQLAlchemy, TensorFlow, setuptools' pkg_resources, jax ...)
warn about deprecations at every start; nothing an operator can act on, and they push the addresses that
`python -m bot.cli run` prints out of sight. The children of the run command get PYTHONWARNINGS (when it is
not set already) for the warnings raised while importing; `quiet_third_party_warnings` also ignores them
after Rasa has configured its own warning filters. The project's own modules (bot, actions) still warn.
"""
from __future__ import annotations

import warnings

# Imported before the filters are set: Sanic's import puts `filterwarnings("once", DeprecationWarning)` first.
SANIC = ("sanic",)
# For PYTHONWARNINGS (module filters there cannot be patterns, so these apply to every module).
PYTHONWARNINGS = "ignore::DeprecationWarning,ignore::PendingDeprecationWarning,ignore::FutureWarning"
CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
# The warning's module (where it is attributed) is third-party unless it is one of the project's.
THIRD_PARTY = r"(?!bot\b|actions\b|tests\b)"


def quiet_third_party_warnings(*, preload: tuple[str, ...] = ()) -> None:
    """Put "ignore third-party deprecation warnings" first among the warning filters (idempotent).

    `preload`: modules imported first because importing them sets warning filters of their own (Sanic
    shows every DeprecationWarning "once"), which would otherwise come before these.
    """
    import importlib

    for module in preload:
        importlib.import_module(module)
    for category in CATEGORIES:
        warnings.filterwarnings("ignore", category=category, module=THIRD_PARTY)


def install_after_rasa_filters() -> None:
    """Re-apply the filters each time Rasa sets its own (rasa.utils.common._filter_warnings puts them first)."""
    import rasa.utils.common as common

    original = common._filter_warnings
    if getattr(original, "_quiet", False):
        return

    def _filter_warnings(*args: object, **kwargs: object) -> None:
        original(*args, **kwargs)  # type: ignore[arg-type]
        quiet_third_party_warnings()

    _filter_warnings._quiet = True  # type: ignore[attr-defined]
    common._filter_warnings = _filter_warnings  # type: ignore[assignment]
