"""The auditor portal: a read-only HTTP API and web page over the evidence store.

`create_app(config)` builds a FastAPI app; `evidence serve` runs it under uvicorn. Every
request but the page itself and its OpenAPI document needs `Authorization: Bearer <token>`
(`evidence token create`); `auditor` tokens read, draw samples and download bundles;
`operator` tokens may also trigger a collection. Every request, allowed or not, is appended
to the hash-chained access log. Errors are JSON `{"error": {"status", "message"}}`; no
traceback leaves the server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.errors import ConfigError, EvidenceError, StorageError
from fieldwork.exceptions import RegisterCache
from storage import access
from storage.canonical import iso
from storage.ledger import Seal
from storage.store import EvidenceStore

log = logging.getLogger("evidence.portal")
STATIC = Path(__file__).parent / "static"
MAX_PERIOD_DAYS = 800
MAX_SAMPLE = 10_000
_ID = r"^[A-Za-z0-9._-]{1,64}$"


# response and request models --------------------------------------------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    status: int
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class Control(BaseModel):
    id: str
    title: str
    kind: str = Field(description="criterion, or custom (your own ID mapped onto criteria)")
    criteria: list[str]
    series: int


class ControlState(BaseModel):
    id: str
    title: str
    criteria: list[str]
    state: str = Field(description="pass, excepted, fail, inconclusive, stale or no_evidence")
    records: int


class StatesAnswer(BaseModel):
    as_of: str
    controls: list[ControlState]
    warnings: list[str] = Field(default_factory=list, description="records left out: no "
                                "seal by the store's key vouches for them (or a live run's)")


class EvidenceAnswer(_Open):
    control: str
    criteria: list[str]
    as_of: str
    records: list[dict[str, Any]]
    no_evidence_yet: list[dict[str, Any]]


class RecordAnswer(_Open):
    id: str
    seq: int
    connector: str
    instance: str
    snapshot: str
    status: str


class SampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    control: str = Field(min_length=1, max_length=64)
    since: str = Field(min_length=1, max_length=40)
    until: str = Field(min_length=1, max_length=40)
    size: int = Field(ge=1, le=MAX_SAMPLE)
    seed: str | None = Field(default=None, min_length=1, max_length=128)


class CollectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connectors: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list,
                                                                    max_length=50)
    controls: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list,
                                                                 max_length=50)


class Whoami(BaseModel):
    name: str
    role: str
    expires_at: str | None


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad input"},
    401: {"model": ErrorResponse, "description": "Missing, unknown or expired token"},
    403: {"model": ErrorResponse, "description": "The token's role may not do this"},
    404: {"model": ErrorResponse, "description": "Not found"},
    422: {"model": ErrorResponse, "description": "Malformed request"},
}


def _err(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


class Portal:
    """What the endpoints share: the store, the config, the clock and cached answers."""

    def __init__(self, config: Any, store: EvidenceStore,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._verify_lock = threading.Lock()
        self._verified: tuple[float, dict[str, Any]] | None = None
        self._collect_lock = threading.Lock()
        self.collecting: str | None = None
        self.access_log = access.AccessLogWriter(store.engine)
        self.register = RegisterCache(store)
        self._anchored: tuple[int, str] | None = None
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        # many requests at once: every seal checked now, so that no answer reads seals while
        # its thread holds a pooled connection (storage/vouched.py)
        store.vouched(full=True)

    def resolve(self, control: str) -> tuple[str, ...]:
        try:
            crit: tuple[str, ...] = self.config.catalog.resolve(control)
        except ConfigError as e:
            raise HTTPException(404, str(e)) from None
        return crit

    def time(self, value: str, *, end_of_day: bool = True, what: str = "time") -> datetime:
        from storage.queries import parse_time

        try:
            t = parse_time(value, now=self.clock(), end_of_day=end_of_day)
        except (ConfigError, OverflowError, ValueError) as e:
            raise HTTPException(400, f"{what}: {e}") from None
        return t

    def verify_status(self, max_age_s: float = 300.0) -> dict[str, Any]:
        """The store's verify report, recomputed at most every `max_age_s` seconds."""
        from storage.verify import verify

        with self._verify_lock:
            if self._verified and time.monotonic() - self._verified[0] < max_age_s:
                return self._verified[1]
            rep = verify(self.store).to_json()
            rep["access_log"]["problems"] = [p["detail"] for p in rep["problems"]
                                             if p["kind"] == "access-log"]
            rep["checked_at"] = iso(self.clock())
            self._verified = (time.monotonic(), rep)
            return rep

    def checkpoint_access_log(self) -> Seal | None:
        """Seal the access log's head (a seal with purpose `access-log`, signed with the
        store's key, in the index and the seal store) if it moved since the last one:
        from then on `evidence verify` catches entries up to it being cut off. None with
        nothing new, or without a signing key (the portal never makes one)."""
        if not self.store.has_key():
            return None
        with self.store.engine.connect() as conn:
            now = access.head(conn)
        if now is None or now == self._anchored:
            return None
        seal = self.store.seal(None, purpose="access-log")
        self._anchored = access.head_in_note(seal.note)
        return seal

    def start_checkpoints(self, every_s: float) -> None:
        """Checkpoint the access log every `every_s` seconds (when it grew) until close()."""
        if not self.store.has_key():
            log.warning("portal: no signing key: the access log's head is not checkpointed "
                        "(a cut-off tail is caught only by later run seals)")

        def loop() -> None:
            while not self._stop.wait(every_s):
                try:
                    self.checkpoint_access_log()
                except Exception as e:  # the next attempt may succeed; serving goes on
                    log.error("portal: access-log checkpoint failed: %s", _line(e))

        self._checkpointer = threading.Thread(target=loop, name="access-log-checkpoint",
                                              daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        """Commit queued access-log entries, stop checkpointing, checkpoint a last time."""
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(30)
        self.access_log.close()
        try:
            self.checkpoint_access_log()
        except Exception as e:
            log.error("portal: final access-log checkpoint failed: %s", _line(e))


async def _auth(request: Request) -> access.Token:
    """The bearer token's record, or 401 (looked up in the index on every request, so a
    revoked token fails from the next request on)."""
    portal: Portal = request.app.state.portal
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)")
    tok = await run_in_threadpool(access.authenticate, portal.store.engine, value.strip(),
                                  portal.clock())
    if tok is None:
        raise HTTPException(401, "unknown, expired or revoked token")
    request.state.token = tok
    return tok


class _AccessLogMiddleware:
    """Appends every /api/ request (allowed or refused) to the access log and holds its
    response back until the entry is committed and synced to disk: the status line is
    sent only after the AccessLogWriter resolved the entry's future. Pure ASGI (no
    BaseHTTPMiddleware), so the request stays on the event loop between the steps."""

    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app = app
        self.portal = portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["token"] = None
        started = False
        unlogged: BaseException | None = None

        async def logged_send(message: Message) -> None:
            nonlocal started, unlogged
            if message["type"] == "http.response.start" and not started:
                try:
                    await self._log(scope, state.get("token"), int(message["status"]))
                except Exception as e:
                    unlogged = e
                    raise
                started = True
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        except Exception as e:  # answer without a traceback; keep the access log complete
            if started:
                raise
            if unlogged is not None:  # the answer is withheld: it could not be logged
                log.error("portal: access log unavailable: %s", _line(unlogged))
                await _err(503, "the access log is unavailable; try again later")(
                    scope, receive, send)
                return
            log.error("portal: %s: %s", type(e).__name__, _line(e))
            await _err(500, "internal error")(scope, receive, logged_send)

    async def _log(self, scope: Scope, tok: access.Token | None, status: int) -> None:
        client = scope.get("client")
        e = access.entry(at=self.portal.clock(), who=tok.name if tok else "anonymous",
                         token_id=tok.id if tok else None, role=tok.role if tok else None,
                         method=str(scope.get("method", "")), path=str(scope["path"]),
                         query=bytes(scope.get("query_string", b"")).decode("latin-1"),
                         status=status, client=client[0] if client else "")
        await asyncio.wrap_future(self.portal.access_log.submit(e))


def _line(e: BaseException) -> str:
    return str(e).splitlines()[0][:300] if str(e) else ""


Auth = Annotated[access.Token, Depends(_auth)]


def _operator(tok: Auth) -> access.Token:
    if tok.role != "operator":
        raise HTTPException(403, "this needs an operator token")
    return tok


def create_app(config: Any, store: EvidenceStore | None = None, *,
               clock: Callable[[], datetime] | None = None,
               checkpoint_every_s: float = 300.0) -> FastAPI:
    """The portal app over the store that `config` names. While it is served (its lifespan),
    the access log's head is checkpointed into a seal every `checkpoint_every_s` seconds
    and once more at shutdown."""
    portal = Portal(config, store or EvidenceStore.open(config, create=False),
                    clock or (lambda: datetime.now(UTC)))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        portal.start_checkpoints(checkpoint_every_s)
        try:
            yield
        finally:
            await run_in_threadpool(portal.close)

    app = FastAPI(title="evidence-agent auditor portal", version="1",
                  description="Read-only access to SOC 2 evidence, its provenance and "
                              "verification. Authenticate with `Authorization: Bearer <token>`.",
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.portal = portal

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return _err(e.status_code, str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _err(422, f"{where}: {first.get('msg', 'invalid request')}"[:300])

    @app.exception_handler(ConfigError)
    async def _config(_: Request, e: ConfigError) -> JSONResponse:
        return _err(400, str(e)[:500])

    @app.exception_handler(Exception)
    async def _any(_: Request, e: Exception) -> JSONResponse:
        log.error("portal: %s: %s", type(e).__name__, str(e).splitlines()[0][:300] if str(e)
                  else "")
        msg = str(e)[:300] if isinstance(e, StorageError | EvidenceError) else "internal error"
        return _err(500, msg)

    app.add_middleware(_AccessLogMiddleware, portal=portal)

    # pages ----------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text("utf-8"))

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        p = STATIC / name
        if "/" in name or name.startswith(".") or not p.is_file():
            raise HTTPException(404, "no such file")
        kind = {"js": "text/javascript", "css": "text/css"}.get(name.rsplit(".", 1)[-1],
                                                                 "application/octet-stream")
        return Response(p.read_bytes(), media_type=kind)

    # API ------------------------------------------------------------------------------
    @app.get("/api/whoami", response_model=Whoami, responses=_ERRORS)
    def whoami(tok: Auth) -> Whoami:
        """The token's name, role and expiry."""
        return Whoami(name=tok.name, role=tok.role, expires_at=iso(tok.expires_at))

    @app.get("/api/controls", response_model=list[Control], responses=_ERRORS)
    def controls(_: Auth) -> list[Control]:
        """Every SOC 2 criterion and your own control IDs, with how many snapshots map there."""
        from collector.controls import criteria
        from storage.queries import mapped_series_counts

        counts = mapped_series_counts(portal.store.engine)
        out = [Control(id=cid, title=title, kind="criterion", criteria=[cid],
                       series=counts.get(cid, 0)) for cid, title in criteria().items()]
        for cid, crit in portal.config.catalog.custom.items():
            out.append(Control(id=cid, title=", ".join(crit), kind="custom",
                               criteria=list(crit), series=sum(counts.get(c, 0) for c in crit)))
        return out

    @app.get("/api/states", response_model=StatesAnswer, responses=_ERRORS)
    def states(_: Auth, as_of: Annotated[str, Query(max_length=40)] = "now") -> StatesAnswer:
        """Each criterion's state as of an instant: pass, fail, inconclusive, stale or
        no_evidence (the worst of its snapshots' newest records)."""
        from collector.controls import criteria
        from fieldwork.coverage import record_verdict, worst
        from storage.queries import as_of as run_query
        from storage.queries import series_by_criterion

        when = portal.time(as_of, what="as_of")
        mapped = series_by_criterion(portal.store.engine)
        from fieldwork.exceptions import apply_to_answer

        # sealed evidence only: a record no seal by the store's key vouches for never
        # decides a state (storage/vouched.py)
        vouched = portal.store.vouched()  # one view for the answer and the register
        res = apply_to_answer(portal.store, run_query(portal.store.engine, sorted(mapped),
                                                      when, vouched=vouched),
                              when, portal.register.active(when, vouched)
                              ) if mapped else {"records": [], "warnings": []}
        newest = {(r["connector"], r["instance"], r["snapshot"]): r for r in res["records"]}
        out = []
        for cid, title in criteria().items():
            st = []
            for key in sorted(mapped.get(cid, ())):
                r = newest.get(key)
                st.append("no_evidence" if r is None else "stale" if r["stale"]
                          else record_verdict(r["status"], r["assessment"]))
            out.append(ControlState(id=cid, title=title, criteria=[cid],
                                    state=worst(st) if st else "no_evidence",
                                    records=sum(1 for x in st if x != "no_evidence")))
        return StatesAnswer(as_of=iso(when) or "", controls=out, warnings=res["warnings"])

    @app.get("/api/evidence", response_model=EvidenceAnswer, responses=_ERRORS)
    def evidence(_: Auth, control: Annotated[str, Query(min_length=1, max_length=64)],
                 as_of: Annotated[str, Query(max_length=40)] = "now",
                 since: Annotated[str | None, Query(max_length=40)] = None) -> EvidenceAnswer:
        """Evidence for a control as of an instant: newest record per snapshot, stale
        flagged; with `since`, also population records overlapping [since, as_of)."""
        from storage.queries import as_of as run_query

        crit = portal.resolve(control)
        when = portal.time(as_of, what="as_of")
        start = portal.time(since, end_of_day=False, what="since") if since else None
        if start is not None and start > when:
            raise HTTPException(400, "since is after as_of")
        from fieldwork.exceptions import apply_to_answer

        vouched = portal.store.vouched()  # one view for the answer and the register
        res = apply_to_answer(portal.store, run_query(portal.store.engine, crit, when, start,
                                                      vouched=vouched),
                              when, portal.register.active(when, vouched))
        return EvidenceAnswer(control=control, criteria=list(crit), **res)

    def _record(rid: str) -> dict[str, Any]:
        r = portal.store.record(rid)
        if r is None:
            raise HTTPException(404, f"no record with ID {rid!r}")
        return r

    @app.get("/api/records/{record_id}", response_model=RecordAnswer, responses=_ERRORS)
    def record(_: Auth, record_id: Annotated[str, PathParam(pattern=_ID)]) -> dict[str, Any]:
        """One record's index entry, with its findings and provenance (IPE)."""
        r = _record(record_id)
        out = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in r.items()}
        out["provenance"] = portal.store.blob_json(r["ipe_sha256"])
        # sealed | pending | unsealed | unchecked (storage/vouched.py)
        out["sealed"] = portal.store.vouched().state(r)
        from fieldwork.exceptions import apply

        now = portal.clock()
        out["findings"] = apply(portal.store.blob_json(r["findings_sha256"]), r["connector"],
                                r["instance"], r["snapshot"], portal.register.active(now), now) \
            if r["findings_sha256"] else None
        return out

    @app.get("/api/records/{record_id}/content", responses=_ERRORS | {
        200: {"description": "The raw evidence (JSON)", "content": {"application/json": {}}}})
    def content(_: Auth, record_id: Annotated[str, PathParam(pattern=_ID)]) -> Response:
        """The raw evidence a record holds, byte for byte as stored (canonical JSON)."""
        r = _record(record_id)
        if not r["content_sha256"]:
            raise HTTPException(404, f"record {record_id} holds no content "
                                     f"(status {r['status']})")
        return Response(portal.store.blobs.get(r["content_sha256"]),
                        media_type="application/json",
                        headers={"X-Content-SHA256": r["content_sha256"],
                                 # sealed | pending | unsealed | unchecked (storage/vouched.py)
                                 "X-Evidence-Sealed": portal.store.vouched().state(r)})

    def _period(since: str, until: str) -> tuple[datetime, datetime]:
        a = portal.time(since, end_of_day=False, what="since")
        b = portal.time(until, end_of_day=True, what="until")
        if a >= b:
            raise HTTPException(400, "since must be before until")
        if b - a > timedelta(days=MAX_PERIOD_DAYS):
            raise HTTPException(400, f"period longer than {MAX_PERIOD_DAYS} days")
        return a, b

    @app.get("/api/population", response_model=_Open, responses=_ERRORS)
    def population(_: Auth, control: Annotated[str, Query(min_length=1, max_length=64)],
                   since: Annotated[str, Query(max_length=40)],
                   until: Annotated[str, Query(max_length=40)],
                   items: Annotated[int, Query(ge=0, le=5000)] = 100,
                   offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> dict[str, Any]:
        """A frozen population with its completeness (gaps) and a page of its items."""
        from fieldwork.sample import freeze_population

        crit = portal.resolve(control)
        a, b = _period(since, until)
        pop = freeze_population(portal.store, crit, a, b)
        out = pop.to_json(with_items=False)
        out["items"] = pop.items[offset:offset + items]
        out["offset"] = offset
        return out

    @app.post("/api/samples", response_model=_Open, responses=_ERRORS)
    def sample(tok: Auth, body: SampleRequest) -> dict[str, Any]:
        """Draw a seeded sample (the auditor may bring their own seed); it is appended to
        the ledger and sealed, exactly like `evidence sample`."""
        from fieldwork.sample import freeze_population, record_sample

        crit = portal.resolve(body.control)
        a, b = _period(body.since, body.until)
        pop = freeze_population(portal.store, crit, a, b)
        if not pop.items:
            raise HTTPException(400, "the population is empty: nothing to sample")
        row, chosen = record_sample(portal.store, pop, body.size, body.seed,
                                    principal=f"portal token {tok.name} ({tok.role})")
        c = portal.store.blob_json(row["content_sha256"])
        return {"record": row["id"], "seed": c["seed"], "population_sha256": pop.sha256,
                "population_size": len(pop.items), "complete": pop.complete,
                "selected": chosen, "unsealed": pop.unsealed, "warnings": pop.warnings}

    @app.get("/api/export", responses=_ERRORS | {
        200: {"description": "A zip bundle, verifiable offline with `evidence verify-bundle`",
              "content": {"application/zip": {}}}})
    def export(_: Auth, control: Annotated[list[str], Query(min_length=1, max_length=20)],
               as_of: Annotated[str, Query(max_length=40)] = "now",
               since: Annotated[str | None, Query(max_length=40)] = None) -> Response:
        """An export bundle for one or more controls as of an instant."""
        from fieldwork.bundle import export_bundle

        crit: list[str] = []
        for ctl in control:
            crit.extend(x for x in portal.resolve(ctl) if x not in crit)
        when = portal.time(as_of, what="as_of")
        start = portal.time(since, end_of_day=False, what="since") if since else None
        fd, name = tempfile.mkstemp(suffix=".zip", prefix="evidence-bundle-")
        os.close(fd)
        try:
            export_bundle(portal.store, Path(name), crit, when, start,
                          {"controls": list(control), "criteria": crit, "as_of": as_of,
                           "since": since}, force=True)  # our own fresh temp file
        except StorageError as e:
            os.unlink(name)
            raise HTTPException(404, str(e)) from None
        except BaseException:
            os.unlink(name)
            raise
        stamp = when.strftime("%Y%m%dT%H%M%SZ")
        return FileResponse(name, media_type="application/zip",
                            filename=f"evidence-{'-'.join(control)}-{stamp}.zip"[:120],
                            background=BackgroundTask(os.unlink, name))

    @app.get("/api/coverage", response_model=_Open, responses=_ERRORS)
    def coverage(_: Auth, since: Annotated[str, Query(max_length=40)],
                 until: Annotated[str, Query(max_length=40)],
                 control: Annotated[list[str] | None, Query(max_length=100)] = None
                 ) -> dict[str, Any]:
        """Per control and day of the period: fresh evidence, gaps, failures, staleness."""
        from collector.controls import criteria
        from fieldwork.coverage import coverage as run_coverage

        a, b = _period(since, until)
        wanted = {c: portal.resolve(c) for c in control} if control else \
            {c: (c,) for c in criteria()}
        return run_coverage(portal.store, wanted, a, b)

    @app.get("/api/diff", response_model=_Open, responses=_ERRORS)
    def diff(_: Auth, control: Annotated[str, Query(min_length=1, max_length=64)],
             from_: Annotated[str, Query(alias="from", max_length=40)],
             to: Annotated[str, Query(max_length=40)]) -> dict[str, Any]:
        """Per snapshot, the items whose verdict changed between the evidence as of `from`
        and as of `to` (newly failing, fixed, appeared, gone), with both record IDs."""
        from fieldwork.diff import diff as run_diff

        crit = portal.resolve(control)
        return {"control": control, **run_diff(portal.store, crit,
                                               portal.time(from_, what="from"),
                                               portal.time(to, what="to"))}

    @app.get("/api/verify", response_model=_Open, responses=_ERRORS)
    def verify_status(_: Auth) -> dict[str, Any]:
        """The store's verify report (blobs, chain, seals, access log), at most 5 min old."""
        return portal.verify_status()

    @app.post("/api/collect", status_code=202, response_model=_Open, responses=_ERRORS | {
        409: {"model": ErrorResponse, "description": "A portal collection is running"}})
    def collect(tok: Annotated[access.Token, Depends(_operator)],
                body: CollectRequest) -> dict[str, Any]:
        """Trigger a collection now (operator only); it takes the same per-snapshot locks as
        `evidence collect` and the scheduler. Poll /api/runs for its outcome."""
        from collector.runner import Collector, Selection

        sel = Selection(tuple(body.connectors), (), tuple(body.controls))
        col = Collector(portal.config, portal.store)
        if not col.plan(sel):
            raise HTTPException(400, "nothing to collect: no configured snapshot matches")
        if not portal._collect_lock.acquire(blocking=False):
            raise HTTPException(409, "a collection triggered from the portal is running")

        def run() -> None:
            try:
                col.run(sel, trigger=f"portal:{tok.name}"[:128])
            except Exception as e:  # recorded in the run; never kills the server
                log.error("portal collection failed: %s", str(e).splitlines()[0][:300])
            finally:
                portal._collect_lock.release()

        threading.Thread(target=run, name="portal-collect", daemon=True).start()
        return {"started": True, "trigger": f"portal:{tok.name}"}

    @app.get("/api/runs", response_model=list[dict[str, Any]], responses=_ERRORS)
    def runs(_: Auth, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
        """The newest collection runs and their outcome."""
        from storage.queries import newest_runs

        return [{"id": r["id"], "trigger": r["trigger"], "status": r["status"],
                 "started_at": iso(r["started_at"]), "finished_at": iso(r["finished_at"]),
                 "counts": (r["summary"] or {}).get("counts", {})}
                for r in newest_runs(portal.store.engine, limit)]

    return app
