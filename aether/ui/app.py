"""``aether ui``: the live web UI, a Starlette application over the query services.

Every read goes through :class:`QueryService` and :class:`TimeTravel`, on one thread of
their own (the engine's reads are not meant to run on the event loop, and one reader at
a time keeps their caches simple). Pages poll nothing themselves: each page holds one
server-sent-event stream that says when the runs (or the shown run) changed, and the page
then asks again: the runs list for the list, a run page for what changed after the event
it shows last (``/api/runs/<id>/changes?since=SEQ``), not the whole run again. Actions that
change a run (cancel, resume, retry) exist only when the server was started with them
allowed, and only from the UI's own pages (``aether.ui.same_origin``); otherwise they
answer 403.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aether.events.streams import run_stream
from aether.events.times import parse_ms
from aether.model.json_value import JSON
from aether.projections.view_at import ViewHistoryGap
from aether.runtime.cron import CronError, CronService
from aether.runtime.engine import HistoryDecodeError, RequestRejected, RunNotFound
from aether.runtime.queries import QueryService
from aether.runtime.time_travel_queries import TimeTravel
from aether.ui import pages, same_origin
from aether.ui.auth import TokenGate
from aether.ui.cron_times import next_times
from aether.ui.packing import pack
from aether.ui.run_data import RunDocument, run_outline, task_logs

# How often a stream looks for new events: the live pages lag the log by at most this.
POLL_SECONDS = 0.5
# A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0
# Run documents kept up to date, the least recently asked for dropped first.
CACHED_RUNS = 8

Result = TypeVar("Result")


class _Reader:
    """The query services, called from one thread; the documents of the runs last shown,
    each brought up to its run's last event when asked for (reading only what is new)."""

    def __init__(self, queries: QueryService) -> None:
        self.queries = queries
        self.travel = TimeTravel(queries.engine, queries)
        self.crons = CronService(queries.engine)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aether-ui-reads")
        self._documents: dict[str, RunDocument] = {}
        self._packed: dict[str, tuple[int, bytes]] = {}  # run id -> (its last event, the packed document)

    async def call(self, function: Callable[..., Result], *args: Any) -> Result:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    def document(self, run_id: str) -> RunDocument:
        found = self._documents.pop(run_id, None)
        if found is None:
            found = RunDocument(self.queries, run_id)
        else:
            found.advance()
        self._documents[run_id] = found
        while len(self._documents) > CACHED_RUNS:
            dropped = next(iter(self._documents))
            del self._documents[dropped]
            self._packed.pop(dropped, None)
        return found

    def packed(self, run_id: str) -> bytes:
        """The run's whole document, packed (``aether.ui.packing``) as JSON."""
        document = self.document(run_id)
        found = self._packed.get(run_id)
        if found is None or found[0] != document.last:
            found = self._packed[run_id] = (document.last, orjson.dumps(pack(document.whole())))
        return found[1]

    def changes(self, run_id: str, since: int) -> dict[str, JSON]:
        return self.document(run_id).since(since)

    def phases_at(self, run_id: str, seq: int) -> dict[str, JSON]:
        view = self.travel.view_at(run_id, seq)
        if view is None:
            return {"seq": seq, "run": None, "nodes": {}}
        nodes: dict[str, JSON] = {}
        for task in view.tasks:
            node = orjson.loads(task)
            nodes[node["id"]] = node["phase"]
        return {"seq": min(seq, self.queries.last_version(run_id)), "run": view.header["phase"], "nodes": nodes}

    def node_at(self, run_id: str, node_id: str, seq: int) -> dict[str, JSON] | None:
        seq = min(seq, self.queries.last_version(run_id))
        view = self.travel.view_at(run_id, seq)
        prefix = b'{"id":' + orjson.dumps(node_id) + b","
        found = None if view is None else next((task for task in view.tasks if task.startswith(prefix)), None)
        if found is None:
            return None
        node = orjson.loads(found)
        recorded = next((n for n in self.document(run_id).nodes if n["id"] == node_id), None)
        audit = [
            {"seq": entry.seq, "from": entry.from_phase, "to": entry.to_phase, "message": entry.message}
            for entry in self.queries.history(run_id, phases_only=True, node=node_id)
            if entry.node_id == node_id
        ]
        return {
            "id": node_id,
            "type": node["templateType"],
            "template": node["templateName"],
            "phase": node["phase"],
            "message": node["message"],
            "inputs": node["inputs"],
            "outputs": node["outputs"],
            "attempts": _attempts_at(recorded["attempts"] if recorded else [], seq),
            "audit": audit,
            "logs": task_logs(self.queries, run_id, node_id, self._time_at(run_id, seq)).get(node_id, {}),
        }

    def _time_at(self, run_id: str, seq: int) -> int | None:
        """The run's clock after event ``seq`` (from its document's event list); None at
        its last event, where everything written so far is shown."""
        document = self.document(run_id)
        if seq >= document.last:
            return None
        found = document.events[seq - 1] if 0 < seq <= len(document.events) else None
        return found[1] if isinstance(found, list) and isinstance(found[1], int) else None

    def runs(self, phase: str, workflow: str, since: int | None, until: int | None) -> list[dict[str, JSON]]:
        listed = []
        for run in self.queries.runs():
            created = parse_ms(str(run["createdAt"])) if run["createdAt"] else None
            if phase and run["phase"] != phase:
                continue
            if workflow and workflow.lower() not in str(run["name"]).lower():
                continue
            if since is not None and (created is None or created < since):
                continue
            if until is not None and (created is None or created > until):
                continue
            listed.append(run)
        return listed

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


def _attempts_at(attempts: JSON, seq: int) -> list[JSON]:
    """The attempts as they stood after event ``seq`` (as the page's own ``attemptsAt``)."""
    shown: list[JSON] = []
    for attempt in attempts if isinstance(attempts, list) else []:
        assert isinstance(attempt, dict)
        dispatched, started, finished = attempt["seqs"]
        if dispatched is None or dispatched > seq:
            continue
        row = dict(attempt)
        if started is None or started > seq:
            row["startedMs"] = None
        if finished is None or finished > seq:
            row.update(finishedMs=None, phase=None, code=None, message="")
        shown.append(row)
    return shown


def _json(value: JSON, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


def _error(message: str, status: int) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _int_param(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name, "")
    return int(text) if text.lstrip("-").isdigit() else default


def _time_param(request: Request, name: str) -> int | None:
    text = request.query_params.get(name, "")
    if not text:
        return None
    try:
        return parse_ms(text)
    except ValueError:
        return None


def create_app(queries: QueryService, *, token: str | None = None, allow_actions: bool = False) -> Starlette:
    """The UI over ``queries``. ``token``: every request must carry it (see ``TokenGate``)."""
    reader = _Reader(queries)

    async def known_run(run_id: str) -> bool:
        try:
            await reader.call(reader.queries.last_version, run_id)
        except RunNotFound:
            return False
        return True

    async def runs_page(request: Request) -> Response:
        return HTMLResponse(pages.runs_page())

    async def run_page(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        if not await known_run(run_id):
            return HTMLResponse(f"no run {run_id}", status_code=404)
        return HTMLResponse(pages.run_page(run_id, allow_actions=allow_actions))

    async def crons_page(request: Request) -> Response:
        return HTMLResponse(pages.crons_page(await reader.call(reader.crons.list)))

    async def cron_page(request: Request) -> Response:
        name, namespace = request.path_params["name"], request.path_params["namespace"]
        try:
            view = await reader.call(reader.crons.get, name, namespace)
        except CronError as exc:
            return HTMLResponse(f"{exc.code}: {exc.message}", status_code=404)
        return HTMLResponse(pages.cron_page(view, next_times(view, 5)))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in pages.STATIC_FILES:
            return Response("not found", status_code=404)
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return Response(pages.static_text(name), media_type=kind, headers={"Cache-Control": "no-cache"})

    async def api_runs(request: Request) -> Response:
        found = await reader.call(
            reader.runs,
            request.query_params.get("phase", ""),
            request.query_params.get("workflow", ""),
            _time_param(request, "since"),
            _time_param(request, "until"),
        )
        return _json(found)

    async def api_run(request: Request) -> Response:
        try:
            packed = await reader.call(reader.packed, request.path_params["run_id"])
        except (RunNotFound, HistoryDecodeError) as exc:
            return _error(str(exc), 404)
        return Response(packed, media_type="application/json")

    async def api_outline(request: Request) -> Response:
        try:
            return _json(await reader.call(run_outline, reader.queries, request.path_params["run_id"]))
        except (RunNotFound, ViewHistoryGap) as exc:
            return _error(str(exc), 404)

    async def api_changes(request: Request) -> Response:
        run_id, since = request.path_params["run_id"], _int_param(request, "since", 0)
        try:
            return _json(await reader.call(reader.changes, run_id, since))
        except (RunNotFound, HistoryDecodeError) as exc:
            return _error(str(exc), 404)

    async def api_phases(request: Request) -> Response:
        try:
            found = await reader.call(reader.phases_at, request.path_params["run_id"], _int_param(request, "at", 1))
        except (RunNotFound, ViewHistoryGap) as exc:
            return _error(str(exc), 404)
        return _json(found)

    async def api_node(request: Request) -> Response:
        run_id, node_id = request.path_params["run_id"], request.query_params.get("id", "")
        try:
            found = await reader.call(reader.node_at, run_id, node_id, _int_param(request, "at", 1 << 62))
        except (RunNotFound, ViewHistoryGap) as exc:
            return _error(str(exc), 404)
        return _json(found)

    async def api_diff(request: Request) -> Response:
        a, b = _int_param(request, "a", 0), _int_param(request, "b", 0)
        if a < 1 or b < 1:
            return _error("both points must be at or after event 1", 400)
        try:
            return _json(await reader.call(reader.travel.diff, request.path_params["run_id"], a, b))
        except (RunNotFound, ViewHistoryGap) as exc:
            return _error(str(exc), 404)

    async def changes(request: Request, version: Callable[[], int]) -> AsyncIterator[bytes]:
        last, quiet = -1, 0.0
        while not await request.is_disconnected():
            now = await reader.call(version)
            if now != last:
                last, quiet = now, 0.0
                yield b"data: " + orjson.dumps({"lastSeq": now}) + b"\n\n"
            elif quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield b": keep-alive\n\n"
            await asyncio.sleep(POLL_SECONDS)
            quiet += POLL_SECONDS

    def event_stream(source: AsyncIterator[bytes]) -> Response:
        return StreamingResponse(source, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def runs_stream(request: Request) -> Response:
        return event_stream(changes(request, reader.queries.engine.log.last_position))

    async def run_changes(request: Request) -> Response:
        stream = run_stream(request.path_params["run_id"])
        return event_stream(changes(request, lambda: reader.queries.engine.log.stream_version(stream)))

    async def action(request: Request) -> Response:
        if not allow_actions:
            return _error("actions are disabled: start aether ui with --allow-actions", 403)
        if (refused := same_origin.refusal(request)) is not None:
            return _error(refused, 403)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _error("an action is a JSON request", 415)
        run_id, name = request.path_params["run_id"], request.path_params["action"]
        body = orjson.loads(await request.body() or b"{}")
        engine = reader.queries.engine
        try:
            if name == "cancel":
                await reader.call(engine.cancel, run_id)
                return _json({"runId": run_id, "done": "cancel"})
            if name == "resume":
                node = body.get("node") if isinstance(body, dict) else None
                if not isinstance(node, str):
                    return _error("resume needs the node id", 400)
                await reader.call(engine.resume, run_id, node, body.get("payload") or {})
                return _json({"runId": run_id, "done": "resume"})
            if name == "retry":
                return _json({"runId": await reader.call(engine.fork, run_id, "retry"), "done": "retry"})
        except RunNotFound as exc:
            return _error(str(exc), 404)
        except RequestRejected as exc:
            return _error(str(exc), 409)
        return _error(f"no action {name}", 404)

    routes = [
        Route("/", runs_page),
        Route("/runs/{run_id}", run_page),
        Route("/crons", crons_page),
        Route("/crons/{namespace}/{name}", cron_page),
        Route("/static/{name}", static),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/api/runs", api_runs),
        Route("/api/runs/stream", runs_stream),
        Route("/api/runs/{run_id}", api_run),
        Route("/api/runs/{run_id}/changes", api_changes),
        Route("/api/runs/{run_id}/outline", api_outline),
        Route("/api/runs/{run_id}/phases", api_phases),
        Route("/api/runs/{run_id}/node", api_node),
        Route("/api/runs/{run_id}/diff", api_diff),
        Route("/api/runs/{run_id}/stream", run_changes),
        Route("/api/runs/{run_id}/{action}", action, methods=["POST"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        reader.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    if token is not None:
        app.add_middleware(TokenGate, token=token)
    return app
