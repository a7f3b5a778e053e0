"""The ``http`` executor (SPEC §14.3): one HTTP request, its status, headers and body.

``http.client`` rather than ``urllib.request``: it makes exactly one request (no redirect
following, no proxy taken from the environment), and it exposes the socket, which is how
a cancel or a deadline interrupts a request blocked in ``recv``. The request runs on a
helper thread while the executor's thread watches cancel and deadline.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from attrs import frozen

from aether.events.assignment import TaskAssignment
from aether.model.json_value import JSON
from aether.model.limits import DEFAULT_LIMITS
from aether.model.problems import Problem, warning
from aether.model.storable import storable_problem
from aether.runtime.executors.base import (
    CODE_ERROR,
    CODE_FAILED,
    CODE_SUCCEEDED,
    CODE_TIMEOUT,
    ExecContext,
    ExecResult,
)
from aether.runtime.executors.process import MAX_STREAM_BYTES, POLL_SECONDS, STREAM_TAIL_BYTES
from aether.runtime.executors.streams import stream_value

CONFIG_PROBLEM = "W-EXECUTOR-CONFIG"


class ConfigError(Exception):
    pass


@frozen
class _Request:
    scheme: str
    host: str
    port: int | None
    target: str  # path and query
    method: str
    headers: dict[str, str]
    body: bytes | None
    expected: frozenset[int] | None  # None: any 2xx


@frozen
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes  # the first MAX_STREAM_BYTES of the body
    tail: bytes  # the last STREAM_TAIL_BYTES of the body
    total: int  # bytes in the whole body
    content_type: str
    charset: str | None


class _Call:
    """One request on a helper thread; the watcher may abort it by shutting the socket."""

    def __init__(self, request: _Request, timeout: float | None) -> None:
        self.request = request
        self.timeout = timeout
        self.response: _Response | None = None
        self.error: BaseException | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._aborted = False
        self.thread = threading.Thread(target=self._run, name="aether-http", daemon=True)

    def _run(self) -> None:
        req = self.request
        conn: http.client.HTTPConnection
        if req.scheme == "https":
            conn = http.client.HTTPSConnection(
                req.host, req.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(req.host, req.port, timeout=self.timeout)
        with self._lock:
            if self._aborted:
                return
            self._conn = conn
        try:
            conn.request(req.method, req.target, body=req.body, headers=req.headers)
            resp = conn.getresponse()
            head, tail, total = _read_body(resp)
            headers: dict[str, str] = {}
            for name, value in resp.getheaders():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            self.response = _Response(
                status=resp.status,
                headers=headers,
                body=head,
                tail=tail,
                total=total,
                content_type=resp.headers.get_content_type(),
                charset=resp.headers.get_content_charset(),
            )
        except BaseException as exc:
            self.error = exc
        finally:
            conn.close()

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            # shutdown, unlike close, wakes a thread blocked in recv on this socket.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class HttpExecutor:
    type = "http"

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Problem]:
        config = config or {}
        problems: list[Problem] = []

        def problem(text: str) -> None:
            problems.append(warning(CONFIG_PROBLEM, "$", f"http: {text}"))

        url = config.get("url")
        if url is None:
            problem('"url" is required')
        elif not isinstance(url, str):
            problem('"url" must be a string')
        elif "{{" not in url and urlsplit(url).scheme.lower() not in ("http", "https"):
            problem('"url" must be an http or https URL')
        method = config.get("method")
        if method is not None and not (isinstance(method, str) and method.strip()):
            problem('"method" must be a non-empty string')
        headers = config.get("headers")
        if headers is not None and not isinstance(headers, dict):
            problem('"headers" must be an object')
        expected = config.get("expectedStatus")
        if expected is not None:
            try:
                _expected(expected, allow_placeholders=True)
            except ConfigError as exc:
                problem(str(exc))
        return problems

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        if ctx.cancelled():
            return ExecResult(CODE_ERROR, "task cancelled before start")
        left = ctx.seconds_left()
        if left is not None and left <= 0:
            return ExecResult(CODE_TIMEOUT, "task timed out: deadline passed before start")
        try:
            prepared = _prepare(request.executor_config or {})
        except ConfigError as exc:
            return ExecResult(CODE_ERROR, str(exc))

        call = _Call(prepared, timeout=left)
        call.thread.start()
        try:
            while True:
                call.thread.join(POLL_SECONDS)
                if not call.thread.is_alive():
                    break
                if ctx.cancelled():
                    return ExecResult(CODE_ERROR, "task cancelled")
                left = ctx.seconds_left()
                if left is not None and left <= 0:
                    return ExecResult(CODE_TIMEOUT, "task timed out: deadline exceeded")
        finally:
            call.abort()  # no-op once the request is over; frees a request left behind

        if call.response is None:
            left = ctx.seconds_left()
            if left is not None and left <= 0:
                return ExecResult(CODE_TIMEOUT, f"task timed out: {_describe(call.error)}")
            return ExecResult(CODE_ERROR, f"request failed: {_describe(call.error)}")
        return _result(call.response, prepared.expected)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "no response"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _prepare(config: Mapping[str, JSON]) -> _Request:
    url = config.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError('"url" is required and must be a string')
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"unsupported URL scheme {parts.scheme!r}: {url}")
    if not parts.hostname:
        raise ConfigError(f"URL has no host: {url}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"invalid URL {url}: {exc}") from exc

    method = config.get("method", "GET")
    if not isinstance(method, str) or not method.strip():
        raise ConfigError('"method" must be a non-empty string')

    headers: dict[str, str] = {}
    raw_headers = config.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise ConfigError('"headers" must be an object')
    for name, value in raw_headers.items():
        headers[str(name)] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    have = {name.lower() for name in headers}
    if parts.username is not None and "authorization" not in have:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")

    body: bytes | None = None
    raw_body = config.get("body")
    if isinstance(raw_body, str):
        body = raw_body.encode("utf-8")
    elif raw_body is not None:
        body = json.dumps(raw_body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if "content-type" not in have:
            headers["Content-Type"] = "application/json"

    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    expected_raw = config.get("expectedStatus")
    expected = None if expected_raw is None else _expected(expected_raw, allow_placeholders=False)
    return _Request(scheme, parts.hostname, port, target, method.strip().upper(), headers, body, expected)


def _expected(value: JSON, *, allow_placeholders: bool) -> frozenset[int]:
    """``expectedStatus`` as a set of codes. Digit strings are accepted because string
    interpolation (SPEC §4.7) can only produce strings."""
    items = value if isinstance(value, list) else [value]
    codes: set[int] = set()
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            codes.add(item)
        elif isinstance(item, str) and item.strip().isdigit():
            codes.add(int(item))
        elif allow_placeholders and isinstance(item, str) and "{{" in item:
            continue
        else:
            raise ConfigError('"expectedStatus" must be an integer or a list of integers')
    return frozenset(codes)


def _read_body(resp: http.client.HTTPResponse) -> tuple[bytes, bytes, int]:
    """The body's head, its tail and its size. All of it is read, as a task's streams are
    (SPEC §14.3), so that the tail is the body's own end; cancel and the deadline bound
    the reading of an endless body."""
    head = resp.read(MAX_STREAM_BYTES)
    tail = head[-STREAM_TAIL_BYTES:]
    total = len(head)
    while chunk := resp.read(STREAM_TAIL_BYTES):
        total += len(chunk)
        tail = (tail + chunk)[-STREAM_TAIL_BYTES:]
    return head, tail, total


def _result(response: _Response, expected: frozenset[int] | None) -> ExecResult:
    body, notes = _body_value(response)
    values = {"status": response.status, "headers": response.headers, "body": body}
    ok = 200 <= response.status <= 299 if expected is None else response.status in expected
    if not ok:
        return ExecResult.outputs(values, CODE_FAILED, "; ".join([f"unexpected status {response.status}", *notes]))
    return ExecResult.outputs(values, CODE_SUCCEEDED, "; ".join(notes))


def _body_value(response: _Response) -> tuple[JSON, list[str]]:
    """The ``body`` output and what the message says of it. A body that would not fit
    ``L-VALUE`` as compact JSON keeps its head and tail as text, as a stream does; a JSON
    body is parsed only when the log can store its parsed value."""
    limit = DEFAULT_LIMITS.value_bytes
    head, tail, total = _as_utf8(response)
    notes: list[str] = []
    if total <= len(head) and _is_json(response.content_type):
        parsed = _parsed_json(head)
        if parsed is not None:
            problem = storable_problem(parsed[0], DEFAULT_LIMITS, path="body", max_bytes=limit)
            if problem is None:
                return parsed[0], []
            notes.append(f"JSON body kept as text: {problem.path}: {problem.message}")
    text, omitted = stream_value(head, tail, total, limit)
    if omitted:
        notes.append(
            f"body truncated to its head and tail within L-VALUE ({limit} bytes): {omitted} of {total} bytes left out"
        )
    return text, notes


def _parsed_json(data: bytes) -> tuple[JSON] | None:
    try:
        return (json.loads(data.decode("utf-8", errors="replace")),)
    except (ValueError, RecursionError):
        return None


def _as_utf8(response: _Response) -> tuple[bytes, bytes, int]:
    """Head, tail and size of the body in UTF-8, whatever its declared charset."""
    charset = (response.charset or "utf-8").lower()
    if charset in ("utf-8", "utf8", "us-ascii", "ascii"):
        return response.body, response.tail, response.total
    try:
        head = response.body.decode(charset, errors="replace").encode("utf-8")
        tail = response.tail.decode(charset, errors="replace").encode("utf-8")
    except LookupError:  # a charset Python does not know
        return response.body, response.tail, response.total
    if response.total <= len(response.body):
        return head, head, len(head)
    return head, tail, response.total - len(response.body) - len(response.tail) + len(head) + len(tail)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")
