"""`matcher serve`: rehearsal and practice in the browser.

A local ASGI application (Starlette, served by uvicorn) whose pages speak JSON to
documented endpoints and follow the browser's microphone over a WebSocket. It reaches
the engine only through :mod:`matcher.serve.engine`.

Importing this package (or :mod:`matcher.serve.command`, which the CLI registers) loads
neither Starlette nor the engine; :func:`create_app` does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "serve":
        from .command import serve

        return serve
    raise AttributeError(f"module 'matcher.serve' has no attribute {name!r}")
