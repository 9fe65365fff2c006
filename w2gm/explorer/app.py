"""The explorer's web app: the JSON API (with its OpenAPI schema) and the page that uses it.

Requests only ever name words and numbers: the page's assets are read into memory when
the app is made and served from there by name, so no request reaches the file system.
Every error, including FastAPI's own validation and routing errors, is answered as JSON
``{"message": ..., "suggestions": [...]}``.  Requests whose Host header is not a name of the
server are refused (``allowed_hosts``), so that a web page cannot reach the API of an
explorer bound to this machine through DNS rebinding.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from importlib import resources

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import W2GMError
from ..keyed import KeyedMixtures
from .views import Explorer, ModelInfo, NeighboursView, NotFound, PairView, SenseView, WordView

#: A key longer than this is no word of any model (and would make close-match search slow).
MAX_KEY_LENGTH = 200
MAX_NEIGHBOURS = 100
MAX_SUGGESTIONS = 50
#: A context sentence longer than this is cut short by the browser's form anyway.
MAX_CONTEXT_LENGTH = 2000

#: A Host header: a bracketed IPv6 address or a name (no colon, bracket, @ or slash), then an optional port.
_HOST_HEADER = re.compile(r"(\[[0-9a-f:.]+\]|[^:\[\]@/\s]*)(?::[0-9]*)?")

#: The page loads only its own script and style sheet.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class ErrorBody:
    message: str
    #: Words or components the user may have meant.
    suggestions: list[str] = field(default_factory=list)


def _error(status: int, message: str, suggestions: list[str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "suggestions": suggestions or []}, status_code=status)


def _validation_message(error: RequestValidationError) -> str:
    """FastAPI's list of problems as one line: ``k: Input should be less than or equal to 100``."""
    parts = []
    for problem in error.errors():
        # loc is ("query", "k") or ("path", "word"); the first item only says where.
        name = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
        parts.append(f"{name}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts)


def _read_assets() -> dict[str, tuple[bytes, str]]:
    """Every file of ``static/`` by name, with its media type."""
    assets = {}
    for entry in (resources.files(__package__) / "static").iterdir():
        if entry.is_file():
            media_type = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            assets[entry.name] = (entry.read_bytes(), media_type)
    return assets


def host_name(header: str) -> str:
    """The name a Host header gives, without its port, in lower case: ``127.0.0.1:8000`` ->
    ``127.0.0.1``, ``[::1]:8000`` -> ``[::1]``, ``LocalHost.`` -> ``localhost``.  A header
    that is not a name and a port (``localhost:80@evil``) is returned whole, so that no list
    of names holds it."""
    header = header.strip().lower()
    parsed = _HOST_HEADER.fullmatch(header)
    return parsed.group(1).rstrip(".") if parsed else header


def create_app(model: KeyedMixtures, allowed_hosts: Collection[str] | None = None) -> FastAPI:
    """The explorer for ``model``: the page at ``/``, the API under ``/api``, its OpenAPI
    schema at ``/openapi.json``.

    ``allowed_hosts``: the names (as :func:`host_name` gives them) a request's Host header
    may carry; any other is answered 400 before the request reaches the API.  A page on
    another site cannot then read the API through a name it points at this machine (DNS
    rebinding).  None accepts any name (``w2gm serve`` passes its address's names)."""
    explorer = Explorer(model)
    assets = _read_assets()
    app = FastAPI(
        title="w2gm explorer",
        version=__version__,
        description="Senses, uncertainty and entailment of a Gaussian-mixture word model.",
        responses={404: {"model": ErrorBody}, 400: {"model": ErrorBody}, 422: {"model": ErrorBody}},
        # FastAPI's /docs and /redoc pages load their scripts from a CDN: off, so that the
        # app works offline and serves nothing it does not ship.
        docs_url=None,
        redoc_url=None,
    )

    if allowed_hosts is not None:
        names = frozenset(host_name(name) for name in allowed_hosts)

        @app.middleware("http")
        async def check_host(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            header = request.headers.get("host", "")
            if host_name(header) not in names:
                return _error(400, f"Host {header!r} is not a name of this server; start w2gm serve with "
                                   f"--allow-host {host_name(header) or 'NAME'} to accept it")
            return await call_next(request)

    @app.exception_handler(NotFound)
    def not_found(request: Request, error: NotFound) -> JSONResponse:
        return _error(404, str(error), error.suggestions)

    @app.exception_handler(W2GMError)
    def bad_request(request: Request, error: W2GMError) -> JSONResponse:
        return _error(400, str(error))

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(error))

    @app.exception_handler(HTTPException)
    def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    def internal(request: Request, error: Exception) -> JSONResponse:
        return _error(500, f"internal error: {type(error).__name__}")

    key_path = Path(min_length=1, max_length=MAX_KEY_LENGTH, description="a word, or word:i")
    k_query = Query(10, ge=1, le=MAX_NEIGHBOURS, description="neighbours per component")
    all_query = Query(False, description="include inactive components among the neighbours")

    @app.get("/api/info")
    def info() -> ModelInfo:
        """Size and shape of the model, and a few words to start from."""
        return explorer.info()

    @app.get("/api/word/{word:path}")
    def word(word: str = key_path, k: int = k_query, all: bool = all_query) -> WordView:
        """One card per component (weight, variance, usage, nearest components) and their 2-D map."""
        return explorer.word(word, k, all)

    @app.get("/api/sense")
    def sense(
        word: str = Query(min_length=1, max_length=MAX_KEY_LENGTH),
        context: str = Query(min_length=1, max_length=MAX_CONTEXT_LENGTH, description="a sentence"),
    ) -> SenseView:
        """The posterior over the word's components given the sentence, and the chosen one."""
        return explorer.sense(word, context)

    @app.get("/api/neighbors")
    def neighbors(
        q: str = Query(min_length=1, max_length=MAX_KEY_LENGTH, description="word:i, or a word"),
        k: int = Query(20, ge=1, le=MAX_NEIGHBOURS),
        all: bool = all_query,
    ) -> NeighboursView:
        """Nearest components of ``word:i`` (cosine of the means), or nearest words of ``word``."""
        return explorer.neighbours(q, k, all)

    @app.get("/api/pair")
    def pair(
        a: str = Query(min_length=1, max_length=MAX_KEY_LENGTH),
        b: str = Query(min_length=1, max_length=MAX_KEY_LENGTH),
    ) -> PairView:
        """All similarity measures, the K x K partial energies and KL both ways for two words."""
        return explorer.pair(a, b)

    @app.get("/api/suggest")
    def suggest(
        prefix: str = Query(min_length=1, max_length=MAX_KEY_LENGTH),
        limit: int = Query(10, ge=1, le=MAX_SUGGESTIONS),
    ) -> list[str]:
        """The most frequent words starting with ``prefix``, ignoring case."""
        return explorer.suggest(prefix, limit)

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        content, media_type = assets["index.html"]
        return Response(content, media_type=media_type, headers=PAGE_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in assets:
            return _error(404, f"no asset {name!r}")
        content, media_type = assets[name]
        return Response(content, media_type=media_type, headers=PAGE_HEADERS)

    return app
