"""The neutral operator's HTTP service: projects, parties and their uploads."""

from linkage.service.app import create_app
from linkage.service.init import initialise
from linkage.service.settings import Settings

__all__ = ["Settings", "create_app", "initialise"]
