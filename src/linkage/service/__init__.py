"""The neutral operator's HTTP service: projects, parties and their uploads.

The names below are loaded on first use (PEP 562), so that importing a light
module such as :mod:`linkage.service.settings` does not import FastAPI and the
matching engine with the app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linkage.service.app import create_app
    from linkage.service.init import initialise
    from linkage.service.settings import Settings

__all__ = ["Settings", "create_app", "initialise"]

_HOMES = {
    "Settings": "linkage.service.settings",
    "create_app": "linkage.service.app",
    "initialise": "linkage.service.init",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
