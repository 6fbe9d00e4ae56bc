"""The routes without a key: liveness (``/healthz``: the process answers; nothing else is touched),
readiness (``/readyz``: the database, Redis and the model backend answer, server/readiness.py), Prometheus
metrics (``/metrics``), and the web chat page with its static files."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ponder.server.errors import ApiError
from ponder.server.metrics import CONTENT_TYPE
from ponder.server.readiness import readiness
from ponder.server.routes.depends import State

__all__ = ["router"]

router = APIRouter()

_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the server answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready: what failed is in checks."}})
async def readyz(state: State) -> JSONResponse:
    """Readiness: the database, Redis (when configured) and the default model's backend answer."""
    ready, checks = await readiness(state)
    body = {"status": "ready" if ready else "unready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def prometheus(state: State) -> Response:
    """Prometheus metrics."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def chat_page() -> HTMLResponse:
    return HTMLResponse(_web_file("index.html"))


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in _STATIC_TYPES or "/" in name:
        raise ApiError(404, f"No file {name}.", "not_found_error")
    try:
        return Response(_web_file(name), media_type=_STATIC_TYPES[suffix])
    except FileNotFoundError:
        raise ApiError(404, f"No file {name}.", "not_found_error") from None


def _web_file(name: str) -> str:
    return (resources.files("ponder") / "web" / name).read_text(encoding="utf-8")
