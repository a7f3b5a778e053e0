"""The http executor (SPEC §14.3), against a local server on 127.0.0.1 only."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from support.assignments import make_assignment

from aether.events.assignment import TaskAssignment
from aether.model.limits import DEFAULT_LIMITS, MIB
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.executors.http import HttpExecutor
from aether.runtime.worker import run_assignment
from aether.scheduler.result_limits import result_problem

pytestmark = pytest.mark.spec("14.3")

WAIT = 20.0
L_VALUE = DEFAULT_LIMITS.value_bytes


class Server:
    def __init__(self) -> None:
        self.release = threading.Event()  # lets /slow answer
        self.slow_arrived = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def send(self, status: int, body: bytes, content_type: str, extra: Sequence[tuple[str, str]] = ()) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path
                if path == "/json":
                    data = json.dumps({"ok": True, "n": 1}).encode()
                    self.send(200, data, "application/json", [("X-Multi", "a"), ("X-Multi", "b")])
                elif path == "/problem":
                    self.send(200, b'{"type": "x"}', "application/problem+json")
                elif path == "/bad-json":
                    self.send(200, b"{not json", "application/json")
                elif path == "/text":
                    self.send(200, "héllo".encode("latin-1"), "text/plain; charset=iso-8859-1")
                elif path.startswith("/status/"):
                    code = int(path.rsplit("/", 1)[1])
                    self.send(code, f"status {code}".encode(), "text/plain")
                elif path == "/redirect":
                    self.send(302, b"", "text/plain", [("Location", "/json")])
                elif path == "/big":
                    self.send(200, b"first\n" + b"a" * (2 * MIB) + b"\nlast", "text/plain")
                elif path == "/big-json":
                    self.send(200, json.dumps({"rows": ["x" * 1000] * 600}).encode(), "application/json")
                elif path == "/wide-int":
                    self.send(200, b'{"n": 100000000000000000000000000000}', "application/json")
                elif path == "/slow":
                    server.slow_arrived.set()
                    server.release.wait(30)
                    self.send(200, b"late", "text/plain")
                else:
                    echo = {
                        "method": self.command,
                        "path": path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode(),
                    }
                    self.send(200, json.dumps(echo).encode(), "application/json")

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    try:
        yield srv
    finally:
        srv.close()


def assignment(config: dict[str, Any]) -> TaskAssignment:
    return make_assignment("http", config)


def run(
    config: dict[str, Any], cancelled: Callable[[], bool] = lambda: False, deadline: datetime | None = None
) -> ExecResult:
    ctx = ExecContext(cancelled=cancelled, deadline=deadline, now=lambda: datetime.now(UTC))
    return HttpExecutor().execute(assignment(config), ctx)


def outputs(result: ExecResult) -> dict[str, Any]:
    return {p.name: p.value for p in result.parameters}


def test_get_json(server: Server) -> None:
    result = run({"url": server.url("/json")})
    assert (result.code, result.message) == (0, "")
    assert [p.name for p in result.parameters] == ["status", "headers", "body"]
    values = outputs(result)
    assert values["status"] == 200
    assert values["body"] == {"ok": True, "n": 1}
    assert values["headers"]["content-type"] == "application/json"
    assert values["headers"]["x-multi"] == "a, b"
    assert all(name == name.lower() for name in values["headers"])


def test_json_suffix_content_type_is_parsed(server: Server) -> None:
    assert outputs(run({"url": server.url("/problem")}))["body"] == {"type": "x"}


def test_unparsable_json_falls_back_to_text(server: Server) -> None:
    assert outputs(run({"url": server.url("/bad-json")}))["body"] == "{not json"


def test_text_body_is_decoded_with_its_charset(server: Server) -> None:
    assert outputs(run({"url": server.url("/text")}))["body"] == "héllo"


def test_post_json_body_with_headers_and_query(server: Server) -> None:
    result = run(
        {
            "url": server.url("/echo?a=1&b=x"),
            "method": "post",
            "headers": {"X-Token": "t0k", "X-Num": 5},
            "body": {"rows": [1, 2]},
        }
    )
    echo = outputs(result)["body"]
    assert echo["method"] == "POST"
    assert echo["path"] == "/echo?a=1&b=x"
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["headers"]["x-token"] == "t0k"
    assert echo["headers"]["x-num"] == "5"
    assert json.loads(echo["body"]) == {"rows": [1, 2]}
    assert echo["body"] == '{"rows":[1,2]}'


def test_string_body_is_sent_as_is_and_explicit_content_type_wins(server: Server) -> None:
    result = run({"url": server.url("/echo"), "method": "PUT", "body": "plain text"})
    echo = outputs(result)["body"]
    assert echo["body"] == "plain text"
    assert "content-type" not in echo["headers"]
    result = run({"url": server.url("/echo"), "method": "PUT", "headers": {"content-type": "text/csv"}, "body": [1]})
    assert outputs(result)["body"]["headers"]["content-type"] == "text/csv"


def test_unexpected_status_is_code_2_with_outputs(server: Server) -> None:
    result = run({"url": server.url("/status/500")})
    assert (result.code, result.message) == (2, "unexpected status 500")
    assert outputs(result)["status"] == 500
    assert outputs(result)["body"] == "status 500"


def test_redirects_are_not_followed(server: Server) -> None:
    result = run({"url": server.url("/redirect")})
    assert (result.code, result.message) == (2, "unexpected status 302")
    assert outputs(result)["headers"]["location"] == "/json"


@pytest.mark.parametrize(
    ("path", "expected", "code"),
    [
        ("/status/404", 404, 0),
        ("/status/202", [201, 202], 0),
        ("/status/200", [201, 202], 2),
        ("/status/204", "204", 0),
        ("/status/299", None, 0),
        ("/status/300", None, 2),
    ],
)
def test_expected_status(server: Server, path: str, expected: Any, code: int) -> None:
    config: dict[str, Any] = {"url": server.url(path)}
    if expected is not None:
        config["expectedStatus"] = expected
    assert run(config).code == code


def test_a_large_body_succeeds_with_its_head_and_tail_within_l_value(server: Server) -> None:
    result = run_assignment(assignment({"url": server.url("/big")}), {"http": HttpExecutor()})
    assert result.code == 0, result.message
    assert result_problem(result.parameters, DEFAULT_LIMITS) is None
    body = outputs(result)["body"]
    assert body.startswith("first\n") and body.endswith("\nlast")
    assert "…[truncated " in body and len(orjson.dumps(body)) <= L_VALUE
    assert f"body truncated to its head and tail within L-VALUE ({L_VALUE} bytes)" in result.message


def test_a_json_body_over_l_value_is_kept_as_truncated_text(server: Server) -> None:
    result = run_assignment(assignment({"url": server.url("/big-json")}), {"http": HttpExecutor()})
    assert result.code == 0, result.message
    assert result_problem(result.parameters, DEFAULT_LIMITS) is None
    body = outputs(result)["body"]
    assert isinstance(body, str) and body.startswith('{"rows": ["xxx') and "…[truncated " in body
    assert f"JSON body kept as text: body: value is 601810 bytes as JSON, over L-VALUE ({L_VALUE} bytes)" in (
        result.message
    )


def test_a_json_body_the_log_cannot_store_is_kept_as_text(server: Server) -> None:
    result = run({"url": server.url("/wide-int")})
    assert result.code == 0
    assert outputs(result)["body"] == '{"n": 100000000000000000000000000000}'
    expected = "JSON body kept as text: body.n: integer of about 30 digits is outside the range the log stores"
    assert expected in result.message


def test_connection_refused_is_code_3() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run({"url": f"http://127.0.0.1:{port}/"})
    assert result.code == 3
    assert result.message.startswith("request failed: ")


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"url": 3},
        {"url": "ftp://127.0.0.1/x"},
        {"url": "http:///nohost"},
        {"url": "http://127.0.0.1:1/", "expectedStatus": "x"},
    ],
)
def test_bad_config_is_code_3(config: dict[str, Any]) -> None:
    assert run(config).code == 3


def test_cancel_abandons_the_request(server: Server) -> None:
    cancel = threading.Event()
    box: list[ExecResult] = []
    thread = threading.Thread(target=lambda: box.append(run({"url": server.url("/slow")}, cancelled=cancel.is_set)))
    thread.start()
    assert server.slow_arrived.wait(WAIT)
    cancelled_at = time.monotonic()
    cancel.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert time.monotonic() - cancelled_at < 10
    assert (box[0].code, box[0].message) == (3, "task cancelled")


def test_deadline_is_code_4(server: Server) -> None:
    deadline = datetime(2030, 1, 1, tzinfo=UTC)

    def now() -> datetime:
        # The deadline passes once the request is at the server, however slow the machine.
        return deadline + timedelta(seconds=1 if server.slow_arrived.is_set() else -1)

    ctx = ExecContext(cancelled=lambda: False, deadline=deadline, now=now)
    started = time.monotonic()
    result = HttpExecutor().execute(assignment({"url": server.url("/slow")}), ctx)
    assert (result.code, result.message) == (4, "task timed out: deadline exceeded")
    assert time.monotonic() - started < 15


def test_deadline_with_the_real_clock(server: Server) -> None:
    # Real clock, 1 s left: whichever fires first, the socket timeout or the watcher, it is code 4.
    started = time.monotonic()
    result = run({"url": server.url("/slow")}, deadline=datetime.now(UTC) + timedelta(seconds=1))
    assert result.code == 4
    assert result.message.startswith("task timed out")
    assert time.monotonic() - started < 15


def test_deadline_already_passed_sends_nothing(server: Server) -> None:
    result = run({"url": server.url("/slow")}, deadline=datetime.now(UTC) - timedelta(seconds=1))
    assert result.code == 4
    assert not server.slow_arrived.is_set()


def test_validate_config() -> None:
    executor = HttpExecutor()
    assert executor.validate_config({"url": "https://example.invalid/x", "expectedStatus": [200, 201]}) == []
    assert executor.validate_config({"url": "{{inputs.parameters.url}}", "expectedStatus": "{{x}}"}) == []
    messages = [p.message for p in executor.validate_config({"method": "", "headers": [], "expectedStatus": [True]})]
    assert messages == [
        'http: "url" is required',
        'http: "method" must be a non-empty string',
        'http: "headers" must be an object',
        'http: "expectedStatus" must be an integer or a list of integers',
    ]
    assert [p.message for p in executor.validate_config({"url": "file:///etc/passwd"})] == [
        'http: "url" must be an http or https URL'
    ]
