"""The local app API (aiohttp): token auth, problem+json errors, SSE subscriptions."""

from connector.api.app import ApiServer, make_app
from connector.api.events import notify

__all__ = ["ApiServer", "make_app", "notify"]
