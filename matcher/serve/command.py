"""`matcher serve`: the command, as a typer-style function (registered by matcher's CLI,
or run alone with ``python -m matcher.serve``)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import ParameterError
from ..signals import sigterm_exits
from .security import is_loopback, new_token, self_signed_certificate


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; beyond loopback a token and HTTPS are required.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
    store: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--store", help="Reference store folder (default: $MATCHER_HOME, else ./references)."),
    ] = None,
    token: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--token", help="Access token (beyond loopback: default a new random one, printed)."),
    ] = None,
    cert: Annotated[Optional[Path], typer.Option("--cert", help="HTTPS certificate (PEM).")] = None,  # noqa: UP045
    key: Annotated[Optional[Path], typer.Option("--key", help="HTTPS private key (PEM).")] = None,  # noqa: UP045
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted [MB].")] = 200.0,
    max_sessions: Annotated[int, typer.Option("--max-sessions", help="Live takes followed at once.")] = 8,
) -> None:
    """Serve the rehearsal pages: references, live following in the browser, scores of takes."""
    import uvicorn

    from .app import create_app

    if (cert is None) != (key is None):
        raise ParameterError("--cert and --key go together")
    if not 0 <= port <= 65535:
        raise ParameterError(f"--port must be in 0-65535, got {port}")
    if not max_upload_mb > 0 or max_sessions < 1:
        raise ParameterError("--max-upload-mb must be > 0 and --max-sessions >= 1")
    local = is_loopback(host)
    if not local and token is None:
        token = new_token()
    with tempfile.TemporaryDirectory(prefix="matcher-serve-") as tmp:
        if not local and cert is None:
            cert, key = self_signed_certificate(Path(tmp), host)
            typer.echo("made a self-signed certificate: the browser will ask you to accept it once", err=True)
        app = create_app(store, token, int(max_upload_mb * 1024 * 1024), max_sessions)
        scheme = "https" if cert is not None else "http"
        shown = "localhost" if local else host
        query = f"/?token={token}" if token else "/"
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            ssl_certfile=str(cert) if cert else None,
            ssl_keyfile=str(key) if key else None,
            ws_max_size=1 << 20,
            log_level="warning",
        )
        server = uvicorn.Server(config)
        # SIGTERM (a service manager's stop) leaves through the with-blocks, as Ctrl-C does:
        # uvicorn shuts down gracefully on it and then raises it again under the handler it
        # found, and the default one would leave the temporary folder (with a self-signed
        # certificate's private key) behind.
        with sigterm_exits(0):
            asyncio.run(_serve_and_announce(server, f"{scheme}://{shown}:PORT{query}"))


async def _serve_and_announce(server: Any, address: str) -> None:
    """Run uvicorn; once it listens, print the address (with the port it got) on stdout."""

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        print("matcher serve: open " + address.replace(":PORT", f":{port}", 1), flush=True)

    task = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        task.cancel()


def main() -> None:
    """``python -m matcher.serve``: the command alone, with matcher's one-line errors."""
    import sys

    from ..errors import MatcherError

    try:
        typer.run(serve)
    except MatcherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
