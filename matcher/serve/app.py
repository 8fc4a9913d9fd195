"""The ASGI application of `matcher serve`: JSON endpoints, the live WebSocket, the pages.

Endpoints (JSON unless said; errors are ``{"error": MESSAGE}`` with a 4xx status):

* ``GET /api/references`` — stored references (public metadata).
* ``POST /api/references`` — multipart form: ``audio`` (file), optional ``beats`` (file),
  ``name``, ``beats_per_bar``, ``replace``; preprocesses and stores; 201 and the metadata.
* ``GET /api/uploads/{upload_id}`` — ``{"stage", "done", "total"}`` (model-rate samples) of
  an upload being preprocessed (the form's optional ``upload_id``: 8-40 letters and digits).
* ``GET /api/references/{name}`` — metadata, beats (time, number, bar) and a waveform overview.
* ``DELETE /api/references/{name}`` — removes it and its takes.
* ``GET /api/references/{name}/takes`` — the take history, newest first.
* ``GET /api/references/{name}/takes/{take}/score`` — the practice score (as `matcher score --json`).
* ``GET /api/references/{name}/takes/{take}/score.png`` — its picture.
* ``GET /api/references/{name}/compare.png?a=A&b=B`` — A, B: ``reference`` or a take id.
* ``WS /api/follow/{name}`` — live following (:mod:`matcher.serve.sessions`).
* ``/``, ``/live.html?ref=NAME``, ``/takes.html?ref=NAME`` — the pages (static files).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from . import engine
from .security import SameOriginMiddleware, TokenMiddleware
from .sessions import LiveSession, Registry
from .takes import TakeError, TakeStore

log = logging.getLogger("matcher.serve")

#: Default upload limit [bytes] for one request (audio and beats file together).
DEFAULT_MAX_UPLOAD = 200 * 1024 * 1024
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9]{8,40}$")


@dataclass
class ServerState:
    store: engine.ReferenceStore
    takes: TakeStore
    max_upload: int = DEFAULT_MAX_UPLOAD
    registry: Registry = field(default_factory=Registry)
    busy: asyncio.Lock | None = None  # one preprocessing or scoring job at a time
    progress: dict[str, dict[str, Any]] = field(default_factory=dict)  # upload id -> progress


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _state(request: Request | WebSocket) -> ServerState:
    return request.app.state.matcher


def _known(state: ServerState, name: str) -> bool:
    try:
        return name in state.store.index()
    except engine.StoreError:
        return False


async def list_references(request: Request) -> Response:
    return JSONResponse(engine.list_references(_state(request).store))


def _safe_filename(filename: str | None) -> str:
    """The last component of a client's file name, for messages and default names only."""
    base = re.split(r"[\\/]", filename or "")[-1]
    return engine.name_from_path(base or "upload") + (Path(base).suffix if _SUFFIX.match(Path(base).suffix) else "")


async def _save_upload(upload: UploadFile, folder: Path, stem: str) -> Path:
    suffix = Path(upload.filename or "").suffix
    path = folder / (stem + (suffix.lower() if _SUFFIX.match(suffix) else ""))
    with open(path, "wb") as f:
        while chunk := await upload.read(1 << 20):
            f.write(chunk)
    return path


async def add_reference(request: Request) -> Response:
    state = _state(request)
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return _error(411, "send the upload with a Content-Length")
    if int(length) > state.max_upload:
        return _error(413, f"upload too large: {int(length)} bytes, the limit is {state.max_upload} bytes")
    try:
        form = await request.form(max_files=2, max_fields=8)
    except Exception as exc:  # malformed multipart: the parser's own message
        return _error(400, f"not a readable upload form ({exc})")
    try:
        got = await _add_from_form(state, form)
    finally:
        await form.close()
        state.progress.pop(str(form.get("upload_id") or ""), None)
    return got


async def upload_progress(request: Request) -> Response:
    """How far the preprocessing of an upload (its form's ``upload_id``) has come."""
    got = _state(request).progress.get(request.path_params["upload_id"])
    return JSONResponse(got) if got is not None else _error(404, "no upload in progress with this id")


async def _add_from_form(state: ServerState, form: Any) -> Response:
    audio = form.get("audio")
    if not isinstance(audio, UploadFile):
        return _error(400, "the form needs an 'audio' file")
    shown = _safe_filename(audio.filename)
    try:
        name = engine.check_name(str(form.get("name") or "").strip() or engine.name_from_path(shown))
        beats_per_bar = int(str(form.get("beats_per_bar") or 4))
    except ValueError as exc:
        return _error(400, str(exc))
    replace = str(form.get("replace") or "").lower() in ("1", "true", "yes", "on")
    beats = form.get("beats")
    upload_id = str(form.get("upload_id") or "")
    report = None
    if _UPLOAD_ID.match(upload_id) and len(state.progress) < 64:
        state.progress[upload_id] = {"stage": "queued", "done": 0, "total": 0}

        def report(done: int, total: int) -> None:
            state.progress[upload_id] = {"stage": "preprocessing", "done": done, "total": total}

    with tempfile.TemporaryDirectory(prefix="matcher-upload-") as tmp:
        folder = Path(tmp)
        audio_path = await _save_upload(audio, folder, "audio")
        beats_path = None
        if isinstance(beats, UploadFile) and beats.filename:
            beats_path = await _save_upload(beats, folder, "beats")
        try:
            async with state.busy or contextlib.nullcontext():
                meta = await asyncio.to_thread(
                    engine.add_reference,
                    state.store,
                    audio_path,
                    name,
                    beats_path,
                    beats_per_bar,
                    "yin",
                    replace,
                    report,
                )
        except engine.StoreError as exc:
            status = 409 if "exists already" in str(exc) or "already stored" in str(exc) else 400
            return _error(status, str(exc).replace(str(folder) + "/", ""))
        except engine.MatcherError as exc:
            return _error(400, f"{shown}: " + str(exc).replace(str(audio_path), "").lstrip(": "))
        except Exception as exc:  # a decoder or model failing on odd input: the upload's fault
            log.exception("preprocessing %s failed", shown)
            return _error(422, f"{shown}: could not preprocess ({type(exc).__name__})")
    return JSONResponse(meta, status_code=201)


async def reference_detail(request: Request) -> Response:
    state, name = _state(request), request.path_params["name"]
    if not _known(state, name):
        return _error(404, f"no reference named {name!r}")
    try:
        return JSONResponse(await asyncio.to_thread(engine.reference_detail, state.store, name))
    except engine.MatcherError as exc:
        return _error(409, str(exc))


async def remove_reference(request: Request) -> Response:
    state, name = _state(request), request.path_params["name"]
    if not _known(state, name):
        return _error(404, f"no reference named {name!r}")
    if name in state.registry.active.values():
        return _error(409, f"{name!r} is being followed right now; stop the take first")
    state.store.remove(name)
    with contextlib.suppress(TakeError):
        state.takes.remove_reference(name)
    return JSONResponse({"removed": name})


async def take_history(request: Request) -> Response:
    state, name = _state(request), request.path_params["name"]
    if not _known(state, name):
        return _error(404, f"no reference named {name!r}")
    return JSONResponse(state.takes.history(name))


async def _score(state: ServerState, name: str, take_id: str) -> tuple[dict[str, Any], Path] | Response:
    """The take's score, computed once and kept beside it."""
    if not _known(state, name):
        return _error(404, f"no reference named {name!r}")
    try:
        meta = state.takes.read_json(name, take_id, ".json")
    except TakeError as exc:
        return _error(400, str(exc))
    if meta is None:
        return _error(404, f"no take {take_id!r} of {name!r}")
    png = state.takes.path(name, take_id, ".score.png")
    score = state.takes.read_json(name, take_id, ".score.json")
    if score is None or not png.exists():
        follow = meta.get("follow") or {}

        def work() -> dict[str, Any]:
            reference = engine.load_reference(state.store, name)
            audio = state.takes.path(name, take_id, ".flac")
            result, picture = engine.score_take_file(
                reference, audio, bool(follow.get("open_begin")), bool(follow.get("open_end"))
            )
            state.takes.save_bytes(name, take_id, ".score.png", picture)
            state.takes.save_json(name, take_id, ".score.json", result)
            return result

        try:
            async with state.busy or contextlib.nullcontext():
                score = await asyncio.to_thread(work)
        except engine.MatcherError as exc:
            return _error(422, f"cannot score take {take_id}: {exc}")
        except Exception as exc:  # odd audio the scorer did not expect: say so, do not crash
            log.exception("scoring %s/%s failed", name, take_id)
            return _error(422, f"cannot score take {take_id} ({type(exc).__name__})")
    return score, png


async def take_score(request: Request) -> Response:
    got = await _score(_state(request), request.path_params["name"], request.path_params["take"])
    return got if isinstance(got, Response) else JSONResponse(got[0])


async def take_score_png(request: Request) -> Response:
    got = await _score(_state(request), request.path_params["name"], request.path_params["take"])
    return got if isinstance(got, Response) else Response(got[1].read_bytes(), media_type="image/png")


async def compare_png(request: Request) -> Response:
    state, name = _state(request), request.path_params["name"]
    if not _known(state, name):
        return _error(404, f"no reference named {name!r}")
    sides = [request.query_params.get("a", "reference"), request.query_params.get("b", "")]
    paths = []
    for side in sides:
        if side == "reference":
            paths.append(None)
            continue
        try:
            path = state.takes.path(name, side, ".flac")
        except TakeError as exc:
            return _error(400, str(exc))
        if not path.exists():
            return _error(404, f"no take {side!r} of {name!r}")
        paths.append(path)

    def work() -> bytes:
        reference = engine.load_reference(state.store, name)
        perf = [
            reference if p is None else engine.take_as_reference(reference, p, f"take {s}")
            for p, s in zip(paths, sides, strict=True)
        ]
        return engine.compare_png(perf[0], perf[1])[1]

    try:
        async with state.busy or contextlib.nullcontext():
            picture = await asyncio.to_thread(work)
    except engine.MatcherError as exc:
        return _error(422, f"cannot compare: {exc}")
    except Exception as exc:
        log.exception("comparing %s failed", sides)
        return _error(422, f"cannot compare these two ({type(exc).__name__})")
    return Response(picture, media_type="image/png")


async def list_devices(request: Request) -> Response:
    """The server's own input devices (for a take that listens to the server's microphone)."""
    import asyncio

    return JSONResponse(await asyncio.to_thread(engine.input_devices))


async def follow_socket(ws: WebSocket) -> None:
    state = _state(ws)
    await LiveSession(ws, state.store, state.takes, state.registry).run(ws.path_params["name"])


def static_folder() -> Path:
    return Path(str(resources.files("matcher.serve") / "static"))


def create_app(
    store: str | Path | None = None,
    token: str | None = None,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    max_sessions: int = 8,
) -> Starlette:
    """The application; ``token``: every request must carry it (see :mod:`matcher.serve.security`)."""
    ref_store = engine.open_store(store)
    state = ServerState(ref_store, TakeStore(ref_store.root), max_upload, Registry(max_sessions))
    name = "{name:str}"
    take = "{take:str}"
    routes = [
        Route("/api/references", list_references, methods=["GET"]),
        Route("/api/devices", list_devices, methods=["GET"]),
        Route("/api/references", add_reference, methods=["POST"]),
        Route("/api/uploads/{upload_id:str}", upload_progress, methods=["GET"]),
        Route(f"/api/references/{name}", reference_detail, methods=["GET"]),
        Route(f"/api/references/{name}", remove_reference, methods=["DELETE"]),
        Route(f"/api/references/{name}/takes", take_history, methods=["GET"]),
        Route(f"/api/references/{name}/takes/{take}/score", take_score, methods=["GET"]),
        Route(f"/api/references/{name}/takes/{take}/score.png", take_score_png, methods=["GET"]),
        Route(f"/api/references/{name}/compare.png", compare_png, methods=["GET"]),
        WebSocketRoute(f"/api/follow/{name}", follow_socket),
        Mount("/", StaticFiles(directory=static_folder(), html=True), name="pages"),
    ]
    middleware = [Middleware(SameOriginMiddleware)]
    if token:
        middleware.append(Middleware(TokenMiddleware, token=token))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        state.busy = asyncio.Lock()
        yield

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.matcher = state
    return app
