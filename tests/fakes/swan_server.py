"""A local Swan: the OAuth2 token endpoint and the partner GraphQL endpoint on an
ephemeral loopback port, answering as Swan's docs and partner schema describe, over an
in-memory model (accounts, memberships and their user's identifications, trusted SEPA
beneficiaries), with faults on demand::

    with FakeSwan() as swan:
        client = GraphQLSwan(**swan.client_settings(), timeout=2, budget=LocalBudget())
        swan.fail_next(3, status=500)              # the next 3 GraphQL requests
        swan.fail_next(1, status=429, retry_after=30)
        swan.hang_next(1, seconds=1, after_processing=True, field="addAccountMembership")
        swan.reject_next("addAccountMembership", "ValidationRejection", fields=[...])
        swan.error_next(1, code="INTERNAL_SERVER_ERROR")
        swan.identify(membership_id, "Invalid", reasons=("ExpiredDocument",))
        swan.set_physical_status(card_id, "ToActivate", trackingNumber="6A12")
        swan.memberships, swan.beneficiaries, swan.cards, swan.requests, swan.tokens_issued
        swan.physical_cards_made                   # every physical card made, reprints too

It is not a GraphQL engine: a request is answered by the handler of its root field
(``accountMembership``, ``account``, ``addAccountMembership``…, found in the document),
which reads the variables and returns whole objects (the client keeps the fields it
selected). Other tests add the fields they need to ``handlers``. Faults name the root
field they apply to (``field=None``: any GraphQL request; ``"token"``: the token
endpoint)."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.swan_model import GraphQLError, SwanModel

GRAPHQL_PATH = "/sandbox-partner/graphql"
TOKEN_PATH = "/oauth2/token"
_ROOT_FIELD = re.compile(r"^\s*(?:query|mutation)\b[^{]*\{\s*(\w+)", re.S)


@dataclass
class Request:
    path: str
    field: str | None  # the GraphQL root field, or "token"
    status: int = 0


@dataclass
class _Fault:
    kind: str  # "status" | "hang" | "reject" | "error"
    remaining: int
    field: str | None
    options: dict[str, Any]


class FakeSwan(SwanModel):
    def __init__(
        self,
        *,
        client_id: str = "coopflow-test",
        client_secret: str = "secret-de-test",
        token_lifetime: float = 3600,
        accounts: tuple[str, ...] = ("acc_coop_1",),
        page_size: int = 100,
    ) -> None:
        super().__init__(accounts=accounts, page_size=page_size)
        self.client_id = client_id
        self.client_secret = client_secret
        #: ``expires_in`` of the tokens issued from now on (seconds, real time).
        self.token_lifetime = token_lifetime
        #: Every request received, in order, with the status it was answered.
        self.requests: list[Request] = []
        self.tokens_issued = 0
        #: Every token handed out (to check none of them leaks into logs).
        self.issued_tokens: list[str] = []
        self._tokens: dict[str, float] = {}
        self._faults: list[_Fault] = []
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.swan = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url_graphql = base + GRAPHQL_PATH
        self.url_oauth = base + TOKEN_PATH
        self.url_auth = base + "/oauth2/auth"

    def __enter__(self) -> FakeSwan:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._closing.set()  # hung requests answer now
        self._server.shutdown()
        self._server.server_close()

    @property
    def physical_cards_made(self) -> int:
        """How many physical cards this Swan made (``addCards`` with one, each
        ``printPhysicalCard``): the count an order made twice would show."""
        with self.lock:
            return self.created["physical_cards"]

    def client_settings(self) -> dict[str, str]:
        """The keyword arguments a real client needs to reach this server."""
        return {
            "graphql_url": self.url_graphql,
            "oauth_url": self.url_oauth,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    # -- scripting -----------------------------------------------------------------

    def _add_fault(self, kind: str, n: int, field: str | None, **options: Any) -> None:
        with self.lock:
            self._faults.append(_Fault(kind, n, field, options))

    def fail_next(
        self, n: int = 1, *, status: int = 500, retry_after: float | None = None, field=None
    ) -> None:
        """The next ``n`` requests answer ``status`` (with ``Retry-After`` if given)."""
        self._add_fault("status", n, field, status=status, retry_after=retry_after)

    def hang_next(
        self, n: int = 1, *, seconds: float = 1.0, after_processing: bool = True, field=None
    ) -> None:
        """The next ``n`` requests answer only after ``seconds``: processed first (the
        client cannot know it was done), or not processed at all."""
        self._add_fault("hang", n, field, seconds=seconds, after=after_processing)

    def reject_next(
        self,
        field: str,
        typename: str = "ValidationRejection",
        message: str = "Invalid input",
        *,
        fields: list[dict[str, Any]] | None = None,
        n: int = 1,
    ) -> None:
        """The next ``n`` calls of mutation ``field`` answer this rejection, doing nothing."""
        self._add_fault("reject", n, field, typename=typename, message=message, fields=fields)

    def error_next(
        self, n: int = 1, *, message: str = "Internal server error", code=None, field=None
    ) -> None:
        """The next ``n`` requests answer GraphQL ``errors`` (``extensions.code``)."""
        self._add_fault("error", n, field, message=message, code=code)

    def expire_tokens(self) -> None:
        """Every token issued so far is now refused (HTTP 401)."""
        with self.lock:
            self._tokens.clear()

    def graphql_requests(self, field: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.field != "token" and (field is None or r.field == field)
            ]

    # -- serving ---------------------------------------------------------------------

    def _take_fault(self, field: str | None, kinds: tuple[str, ...]) -> _Fault | None:
        with self.lock:
            for fault in self._faults:
                wanted = fault.field == field or (fault.field is None and field != "token")
                if fault.kind in kinds and wanted and fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    def respond(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        """One request: (status, headers, JSON body); faults and hangs included."""
        document: dict[str, Any] | None = None
        if path == TOKEN_PATH:
            field: str | None = "token"
        else:
            try:
                document = json.loads(body)
                field = (_ROOT_FIELD.match(document.get("query", "")) or [None, None])[1]
            except (ValueError, AttributeError):
                document, field = None, None
        record = Request(path, field)
        with self.lock:
            self.requests.append(record)
        hang = self._take_fault(field, ("hang",))
        if hang and not hang.options["after"]:
            self._closing.wait(hang.options["seconds"])
            record.status = 599  # never processed
            return 504, {}, {"message": "gateway timeout"}
        answer = self._answer(path, field, headers, body, document)
        if hang:
            self._closing.wait(hang.options["seconds"])
        record.status = answer[0]
        return answer

    def _answer(self, path, field, headers, body, document) -> tuple[int, dict[str, str], Any]:
        fault = self._take_fault(field, ("status",))
        if fault:
            extra = {}
            if fault.options["retry_after"] is not None:
                extra["Retry-After"] = str(fault.options["retry_after"])
            return fault.options["status"], extra, {"message": "fault injected"}
        if path == TOKEN_PATH:
            return self._token(body)
        if path != GRAPHQL_PATH:
            return 404, {}, {"message": "not found"}
        bearer = (headers.get("Authorization") or "").removeprefix("Bearer ")
        with self.lock:
            valid = self._tokens.get(bearer, 0.0) > time.monotonic()
        if not valid:
            return 401, {}, {"errors": [{"message": "Unauthorized"}]}
        fault = self._take_fault(field, ("error",))
        if fault:
            extensions = {"code": fault.options["code"]} if fault.options["code"] else {}
            error = {"message": fault.options["message"], "extensions": extensions}
            return 200, {}, {"data": None, "errors": [error]}
        if document is None or field not in self.handlers:
            error = {
                "message": "Cannot query this field",
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
            return 400, {}, {"errors": [error]}
        fault = self._take_fault(field, ("reject",))
        if fault:
            rejection = {
                "__typename": fault.options["typename"],
                "message": fault.options["message"],
            }
            if fault.options["fields"] is not None:
                rejection["fields"] = fault.options["fields"]
            return 200, {}, {"data": {field: rejection}}
        try:
            with self.lock:
                result = self.handlers[field](document.get("variables") or {})
        except GraphQLError as exc:
            error = {"message": str(exc), "extensions": {"code": exc.code}}
            return 200, {}, {"data": None, "errors": [error]}
        return 200, {}, {"data": {field: result}}

    def _token(self, body: bytes) -> tuple[int, dict[str, str], Any]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, {}, {"error": "unsupported_grant_type"}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return (
                401,
                {},
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        token = secrets.token_urlsafe(24)
        with self.lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
            self.tokens_issued += 1
            self.issued_tokens.append(token)
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.token_lifetime,
            "scope": "",
        }
        return 200, {}, answer

    # -- the model, as Swan shows it ---------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    #: Twenty clients connecting at once must not wait for a SYN retry (backlog of 5).
    request_queue_size = 128
    swan: FakeSwan


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    #: Headers and body leave in one segment (two would meet the client's delayed ACK).
    wbufsize = 65536

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, answer = self.server.swan.respond(self.path, self.headers, body)
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up waiting (a hang): nobody to answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass
