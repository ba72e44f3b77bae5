"""The dictionary web app: a FastAPI (ASGI) application over one dictionary file.

Routes (their OpenAPI description is served at ``/docs``):

* ``GET /`` the search page; ``GET /health``;
* ``POST /search`` a keypoint file or a video -> the top-k glosses with scores and
  skeleton previews;
* with ``allow_edits`` (and the bearer ``token`` when one is set): ``GET /entries``,
  ``POST /entries``, ``DELETE /entries/{id}``, ``GET /export``.

Nothing is served from the file system but the page shipped in this package; uploads go
through :class:`~signssl.serve.upload.QueryRunner` (size limit, content sniffing,
temporary files, time limit).
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from signssl.errors import ConfigError, DataError, SignSSLError
from signssl.eval.query import QueryEncoder
from signssl.io import read_pose
from signssl.serve.preview import skeleton_preview
from signssl.serve.store import DictionaryStore, EntryNotFound, WriteError
from signssl.serve.upload import EmbeddedQuery, QueryRunner, UploadError, too_large_message

log = logging.getLogger("signssl.serve")


@dataclass
class ServeConfig:
    """What ``signssl serve`` was started with."""

    dictionary: Path
    checkpoint: str | None = None
    baseline: str | None = None
    allow_edits: bool = False
    token: str | None = None
    max_upload_mb: float = 50.0
    decode_timeout_s: float = 60.0
    workers: int = 2

    @property
    def max_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)


def encoder_info(info: dict[str, Any], checkpoint: str | None, baseline: str | None) -> dict[str, Any]:
    """The dictionary's ``info`` with the encoder to embed queries with: the recorded one;
    ``checkpoint`` / ``baseline`` may only name that same encoder (or supply one for a
    dictionary that records none)."""
    if checkpoint is not None and baseline is not None:
        raise ConfigError("give --checkpoint or --baseline, not both")
    recorded = dict(info.get("encoder") or {})
    if not recorded:
        if checkpoint is None and baseline is None:
            raise ConfigError("the dictionary does not record its encoder; give the one it was "
                              "built with: --checkpoint RUN or --baseline NAME")
        return {**info, "encoder": {"checkpoint": checkpoint, "baseline": baseline}}
    for name, given in (("checkpoint", checkpoint), ("baseline", baseline)):
        if given is None:
            continue
        same = (Path(given).resolve() == Path(str(recorded.get(name))).resolve()
                if name == "checkpoint" and recorded.get(name) else given == recorded.get(name))
        if not same:
            built = recorded.get("checkpoint") or recorded.get("baseline")
            raise ConfigError(f"the dictionary was built with {built!r}, not --{name} {given}: "
                              "queries must use the same encoder; drop the option or rebuild "
                              "the dictionary")
    return info


def read_page() -> str:
    """The search page shipped with the package."""
    return resources.files("signssl.serve").joinpath("static/index.html").read_text("utf-8")


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 before it is read
    (by its ``Content-Length``) or as soon as the streamed body passes the limit."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        slack = 64 * 1024  # multipart framing and form fields around the file
        if length is not None and length.isdigit() and int(length) > self.max_bytes + slack:
            await _send_413(send, self.max_bytes)
            return
        seen, started = 0, False

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes + slack:
                raise _TooLarge
            return message

        async def tracked_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except _TooLarge:
            if not started:
                await _send_413(send, self.max_bytes)


class _TooLarge(Exception):
    pass


async def _send_413(send: Any, max_bytes: int) -> None:
    body = json.dumps({"detail": too_large_message(max_bytes)}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def create_app(config: ServeConfig) -> Any:
    """The ASGI application for ``config`` (the dictionary is loaded and the encoder built
    here, once)."""
    store = DictionaryStore(config.dictionary)
    encoder = QueryEncoder(encoder_info(store.info, config.checkpoint, config.baseline))
    runner = QueryRunner(encoder, config.decode_timeout_s, config.workers)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        runner.close()

    api = FastAPI(title="signssl sign dictionary", lifespan=lifespan,
                  description="Search a sign dictionary with a keypoint file or a video.")
    page = read_page()

    @api.exception_handler(SignSSLError)
    async def _user_error(_request: Request, exc: SignSSLError) -> JSONResponse:
        status = exc.status if isinstance(exc, UploadError) else (
            404 if isinstance(exc, EntryNotFound) else 500 if isinstance(exc, WriteError) else 422)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    def editor(authorization: str | None = Header(None)) -> None:
        """Edits need --allow-edits, and the bearer token when the server has one."""
        if not config.allow_edits:
            raise UploadError(403, "dictionary edits are off: start the server with --allow-edits")
        if config.token is not None:
            given = (authorization or "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), config.token.encode()):
                raise UploadError(401, "a valid token is needed: send the header "
                                       "'Authorization: Bearer <token>' given to --token")

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @api.get("/health")
    def health() -> dict[str, Any]:
        snap = store.snapshot
        return {"status": "ok", "entries": len(snap.ids), "glosses": len(snap.index.classes),
                "encoder": encoder.spec.name, "video_encoder": encoder.video,
                "edits": config.allow_edits, "token": config.token is not None,
                "max_upload_mb": config.max_upload_mb}

    @api.post("/search")
    def search(file: UploadFile = File(..., description="A keypoint file or a video."),
               k: int = Query(5, ge=1, le=100), aggregate: str = Query("nearest")) -> dict[str, Any]:
        """The k glosses nearest to the uploaded sign (cosine similarity)."""
        t0 = time.perf_counter()
        q = runner.run(file.file, config.max_bytes)
        return _answer(q, k, aggregate, time.perf_counter() - t0)

    def _answer(q: EmbeddedQuery, k: int, aggregate: str, seconds: float) -> dict[str, Any]:
        snap = store.snapshot
        hits = snap.index.search(q.embedding, k=k, aggregate=aggregate)
        results = []
        for rank, h in enumerate(hits, 1):
            entry = snap.entry(h.entry) if h.entry >= 0 else None
            results.append({"rank": rank, "gloss": h.gloss, "score": h.score,
                            "entry": entry and entry["id"],
                            "preview": entry and _entry_preview(entry["path"])})
        return {"kind": q.kind, "seconds": round(seconds, 4), "results": results,
                "query_preview": None if q.pose is None else skeleton_preview(q.pose)}

    @api.get("/entries", dependencies=[Depends(editor)])
    def list_entries() -> dict[str, Any]:
        return {"entries": store.entries()}

    @api.post("/entries", dependencies=[Depends(editor)])
    def add_entry(file: UploadFile = File(...), gloss: str = Form(...),
                  language: str = Form(""), source: str = Form("")) -> dict[str, Any]:
        """Add the uploaded sign under ``gloss``."""
        q = runner.run(file.file, config.max_bytes)
        return {"entry": store.add(q.embedding, gloss, language, source, q.pose)}

    @api.delete("/entries/{entry_id}", dependencies=[Depends(editor)])
    def delete_entry(entry_id: str) -> dict[str, Any]:
        return {"removed": store.remove(entry_id)}

    @api.get("/export", dependencies=[Depends(editor)])
    def export(format: str = Query("safetensors", pattern="^(safetensors|csv)$")) -> Response:
        """The dictionary file, or its entries as CSV."""
        if format == "csv":
            return Response(_entries_csv(store.entries()), media_type="text/csv",
                            headers={"content-disposition": 'attachment; filename="entries.csv"'})
        return Response(store.export_bytes(), media_type="application/octet-stream",
                        headers={"content-disposition":
                                 f'attachment; filename="{store.path.name}"'})

    api.state.store, api.state.runner = store, runner
    api.add_middleware(BodyLimit, max_bytes=config.max_bytes)
    return api


@lru_cache(maxsize=512)
def _entry_preview(path: str) -> dict[str, Any] | None:
    """Preview of an entry's keypoint file, or ``None`` (no file, a video, unreadable)."""
    if not path:
        return None
    try:
        return skeleton_preview(read_pose(path))
    except (DataError, SignSSLError, OSError):
        return None


def _entries_csv(entries: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "gloss", "language", "source", "signer", "path"])
    w.writeheader()
    w.writerows(entries)
    return buf.getvalue()
