"""`matcher serve`: rehearsal and practice in the browser.

A local ASGI application (Starlette, served by uvicorn) whose pages speak JSON to
documented endpoints and follow the browser's microphone over a WebSocket. It reaches
the engine only through :mod:`matcher.serve.engine`.
"""

from .app import create_app
from .command import serve

__all__ = ["create_app", "serve"]
