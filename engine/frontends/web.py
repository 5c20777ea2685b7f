"""`check-listing serve`: a local workbench in the browser, built on the engine's own functions.

Edit a case (pick a bundled one, upload a file or paste YAML), see the report re-rendered at once,
drag the issue price and see the market cap, the standards that hold and whether the issuance
aborts, judge under the rules in force on another date and see what changed; download the HTML
report, the JSON and the case as edited. Every answer is the engine's: the text goes through the
same safe loader as a case file (`load_case_text`), the evaluation through durable_rules
(`Evaluator`, as `evaluate_priced` does), the break-even prices through `pricing` (kept per case
text, as they do not depend on the price), the report through `report.format_html`, the changes
through `revision`. The browser only displays.

Nothing leaves the machine: the page and its script and style are served by the app (no CDN, no
fonts or images fetched), a Content-Security-Policy forbids any other origin, the server answers
only to loopback host names unless started with `allow_remote`, and request bodies are read up
to a size limit (counted while reading, whatever Content-Length says).

    app = create_app()            # the bundled rules and cases
    uvicorn.run(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import re
import socket
import threading
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..common.bundled import bundled_dir
from ..common.errors import InputError, InternalError, Problem
from ..decide.evaluation import Evaluator
from ..decide.pricing import MAX_PRICE_FEN, aborts, at_price, break_even_prices
from ..decide.results import BreakEven, CaseResult
from ..decide.revision import case_impact, changed_rules
from ..input.case import Stage
from ..input.caseload import LoadedCase, load_case_text
from ..input.units import MONEY, Quantity
from ..output.report import ABORT_TEXT, VERDICT_TEXT, break_even_row, exit_code, format_html, format_json, sweep_json, yuan
from ..rules.rulebook import Rulebook
from ..rules.ruleloader import load_rulebook

HERE = Path(__file__).resolve().parent
MAX_BODY_BYTES = 512 * 1024  # a case file is a few KiB; the YAML loader's own limit is 2 MiB
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
DEFAULT_CASE = "qingcloud-pricing"
BREAK_EVEN_CACHE = 64  # case texts whose break-even prices are kept
MAX_PRICE = Decimal(MAX_PRICE_FEN) / 100  # the break-even search's own ceiling
SCALE_MARGIN = Decimal("0.2")  # the slider spans 20% below the lowest marked price to 20% above the highest
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-resource-policy", b"same-origin")]
DOWNLOADS = {"html": ("text/html; charset=utf-8", ".html"), "json": ("application/json; charset=utf-8", ".json"),
             "yaml": ("application/yaml; charset=utf-8", ".yaml")}


def bundled_cases_dir() -> Path | None:
    """The bundled cases: `engine/bundled_cases` in an installed wheel, the checkout's `cases/` otherwise."""
    return bundled_dir("cases", ".")


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) and listening; `OSError` when the address is taken or not ours."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # connections queue from now on, before the server accepts them
    except OSError:
        sock.close()
        raise
    return sock


def serve(app: Starlette, sock: socket.socket) -> None:
    """Run the app under uvicorn on a listening socket until interrupted."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SafeJSONResponse(JSONResponse):
    """JSON with `<`, `>` and `&` written as \\u escapes: echoed input can never read as markup."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


class _Refused(Exception):
    """A request the workbench refuses: an HTTP status and the problems to show."""

    def __init__(self, status: int, problems: list[Problem]):
        super().__init__(problems[0].message if problems else str(status))
        self.status = status
        self.problems = problems


def _refused(status: int, message: str, field: str | None = None, expected: str | None = None) -> _Refused:
    return _Refused(status, [Problem(message, field=field, expected=expected)])


def problem_data(problem: Problem) -> dict[str, Any]:
    return {"message": problem.message, "file": problem.file, "line": problem.line, "column": problem.column,
            "field": problem.field, "expected": problem.expected, "text": problem.render()}


def _problems_response(status: int, problems: list[Problem]) -> SafeJSONResponse:
    return SafeJSONResponse({"ok": False, "problems": [problem_data(p) for p in problems]}, status_code=status)


@dataclass(frozen=True)
class Query:
    """What the page asks to judge: the case text as edited, and the slider's price and the as-of date."""

    text: str
    filename: str
    price: Decimal | None
    as_of: dt.date | None


def parse_price(value: Any) -> Decimal | None:
    """A price in 元 per share from the page ('63.20', '63.20元'); None or '' for the case's own price."""
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise _refused(400, "the price must be a number of 元 per share", field="price", expected="e.g. 63.20")
    try:
        price = Decimal(str(value).replace(",", "").strip().removesuffix("元/股").removesuffix("元"))
    except InvalidOperation:
        raise _refused(400, f"'{value}' is not a price", field="price", expected="e.g. 63.20") from None
    if not price.is_finite() or price <= 0 or price > MAX_PRICE:
        raise _refused(400, f"'{value}' is not a price", field="price",
                       expected=f"more than 0 and at most {MAX_PRICE:,}元 per share")
    return price


def parse_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise _refused(400, f"'{value}' is not a date", field="as_of", expected="a date such as 2021-03-16")


def safe_filename(name: Any, default: str = "case.yaml") -> str:
    """The last path part of an uploaded file's name, without control characters, at most 100 characters."""
    if not isinstance(name, str):
        return default
    name = re.sub(r"[\x00-\x1f\x7f]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()[:100]
    return name if name not in ("", ".", "..") else default


def parse_query(body: bytes) -> Query:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _refused(400, "the request body is not JSON", expected='{"text": "...yaml..."}') from None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise _refused(400, "the request has no case text", field="text", expected='{"text": "...yaml..."}')
    return Query(data["text"], safe_filename(data.get("filename")), parse_price(data.get("price")),
                 parse_date(data.get("as_of")))


def own_price(loaded: LoadedCase) -> Decimal | None:
    """The price the case itself states (issue price, or the lower bound of its range), in 元."""
    offering = loaded.case.offering
    price = offering.issue_price or (offering.price_range.low if offering.price_range else None)
    if price is None:
        return None
    return Decimal(price.value.numerator) / Decimal(price.value.denominator)


def price_text(price: Decimal) -> str:
    """63.7 as 63.70; a price finer than the fen keeps its digits."""
    return f"{max(price, price.quantize(Decimal('0.01')), key=lambda d: -d.as_tuple().exponent):f}"


def _fen(price: Decimal) -> int:
    return int((price * 100).to_integral_value())


class Workbench:
    """The engine behind the page: one rulebook, one durable_rules ruleset, one evaluation at a time."""

    def __init__(self, rulebook: Rulebook, cases_dir: Path | None):
        self.rulebook = rulebook
        self.evaluator = Evaluator(rulebook)
        self.lock = threading.Lock()  # durable_rules sessions are driven synchronously, one at a time
        self.cases = {p.stem: p for p in sorted(cases_dir.glob("*.yaml"))} if cases_dir else {}
        self._break_even: dict[tuple[str, dt.date], tuple[BreakEven, ...]] = {}

    def close(self) -> None:
        self.evaluator.close()

    def judge(self, query: Query) -> dict[str, Any]:
        """Everything the page shows for one state of the editor, slider and date picker."""
        with self.lock:
            loaded, priced, result, break_even = self._evaluate(query)
            data = self._result_data(result)
            data["pricing"] = self._pricing(loaded, priced, result, break_even, query.price)
            data["revision"] = self._revision(priced, result, query.as_of) if query.as_of else None
        return data

    def download(self, query: Query, kind: str) -> tuple[str, str]:
        """(file name, content) of the report or the case as edited, for the state the page shows."""
        if kind == "yaml":
            return query.filename if query.filename.endswith((".yaml", ".yml")) else query.filename + ".yaml", query.text
        with self.lock:
            result = self._evaluate(query)[2]
        return result.case_id + DOWNLOADS[kind][1], (format_html if kind == "html" else format_json)(result)

    def _evaluate(self, query: Query) -> tuple[LoadedCase, LoadedCase, CaseResult, tuple[BreakEven, ...]]:
        """`evaluate_priced` at the slider's price, with the break-even prices kept per case text and date:
        they do not depend on the price (the search sets it), so a slider move does not search again."""
        loaded = load_case_text(query.text, query.filename)
        priced = at_price(loaded, query.price) if query.price is not None else loaded
        result = self.evaluator.evaluate(priced, as_of=query.as_of)
        key = (loaded.text_sha256, result.as_of)
        break_even = self._break_even.pop(key, None) or break_even_prices(self.evaluator, loaded, result.as_of)
        self._break_even[key] = break_even  # most recent last; the oldest goes first
        while len(self._break_even) > BREAK_EVEN_CACHE:
            del self._break_even[next(iter(self._break_even))]
        if priced.case.evaluation.stage != Stage.filing:
            result = replace(result, break_even=break_even)  # what evaluate_priced adds
        return loaded, priced, result, break_even

    @staticmethod
    def _result_data(result: CaseResult) -> dict[str, Any]:
        return {"ok": True, "case_id": result.case_id, "issuer": result.issuer, "stage": result.stage,
                "case_date": result.case_date.isoformat(), "as_of": result.as_of.isoformat(),
                "verdict": result.verdict.value, "verdict_text": VERDICT_TEXT[result.verdict],
                "exit_code": exit_code(result), "summary": result.summary,
                "chosen_standard": result.chosen_standard, "standards_holding": list(result.standards_holding),
                "parts": [{"id": p.part, "title": f"{p.title_zh} {p.title_en}", "verdict": p.verdict.value,
                           "counts": p.counts, "applicable": p.applicable, "summary": p.summary} for p in result.parts],
                "report_html": format_html(result)}

    @staticmethod
    def _pricing(loaded: LoadedCase, priced: LoadedCase, result: CaseResult, break_even: tuple[BreakEven, ...],
                 price: Decimal | None) -> dict[str, Any]:
        """The slider's state: the price, market cap, standards holding and abort at it, the break-even marks."""
        case_price = own_price(loaded)
        marks = []
        for item in break_even:
            label, shown, detail = break_even_row(item)
            marks.append({"standard": item.standard, "label": label, "chosen": item.chosen, "outcome": item.outcome,
                          "price": shown, "detail": detail,
                          "fen": _fen(Decimal(item.price.value.numerator) / item.price.value.denominator)
                          if item.price is not None else None})
        current = price if price is not None else case_price
        at = None
        if current is not None and priced.case.evaluation.stage != Stage.filing:
            # the row `check-listing price` prints at this price, from the same evaluation
            row = json.loads(sweep_json([(current, result, aborts(result))]))[0]
            cap = row["market_cap"]
            at = {"price": price_text(current),
                  "market_cap": yuan(Quantity(Fraction(cap["exact"]), MONEY)) if cap else None,
                  "standards_holding": row["standards_holding"], "aborts": row["aborts"],
                  "issuance": ABORT_TEXT[row["aborts"]], "verdict": row["verdict"]}
        # the scale depends on the case, not on the slider, so it stays put while the price moves
        fens = [m["fen"] for m in marks if m["fen"] is not None] + ([_fen(case_price)] if case_price else [])
        scale = None
        if fens:
            low, high = Decimal(min(fens)) * (1 - SCALE_MARGIN), Decimal(max(fens)) * (1 + SCALE_MARGIN)
            scale = {"min_fen": max(1, int(low)), "max_fen": max(int(high) + 1, 2)}
        return {"stage": loaded.case.evaluation.stage.value, "case_price": price_text(case_price) if case_price else None,
                "at": at, "break_even": marks, "scale": scale}

    def _revision(self, priced: LoadedCase, result: CaseResult, as_of: dt.date) -> dict[str, Any]:
        """What `rules diff --old <case date> --new <as-of>` says for this case."""
        case_date = priced.case.evaluation.date
        changes = changed_rules(self.rulebook, case_date, self.rulebook, as_of)
        # as `case_impacts` does, with the result under `as_of` the page already has
        impact = case_impact(priced, self.evaluator.evaluate(priced), result)
        return {"old": case_date.isoformat(), "new": as_of.isoformat(),
                "changes": [{"rule_id": c.rule_id, "old": c.old or "not in force", "new": c.new or "not in force",
                             "details": list(c.details)} for c in changes],
                "old_verdict": impact.old_verdict, "new_verdict": impact.new_verdict,
                "verdict_flips": impact.verdict_flips,
                "flips": [{"rule_id": f.rule_id, "old": f.old, "new": f.new, "reason": f.reason} for f in impact.flips]}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it exceeds `limit` bytes (declared or actually sent)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _refused(413, f"the request is larger than {limit // 1024} KiB", expected="a case file of a few KiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _refused(413, f"the request is larger than {limit // 1024} KiB", expected="a case file of a few KiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _same_origin(request: Request) -> None:
    """A page of another site may not make the workbench work for it (no CORS; Origin must be ours)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        raise _refused(403, "requests from another origin are refused", field="Origin")


def _attachment(name: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


class _SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every response."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(rules_dir: str | Path | None = None, *, rulebook: Rulebook | None = None,
               cases_dir: Path | None = None, allow_remote: bool = False,
               max_body_bytes: int = MAX_BODY_BYTES) -> Starlette:
    """The workbench app. A broken rules directory raises `RuleFileError` here, before serving."""
    bench = Workbench(rulebook or load_rulebook(rules_dir), cases_dir or bundled_cases_dir())
    templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape is on for .html

    async def guarded(request: Request, work) -> Response:
        try:
            if request.method == "POST":
                _same_origin(request)
            return await work()
        except _Refused as refused:
            return _problems_response(refused.status, refused.problems)
        except InputError as error:
            return _problems_response(422, error.problems)
        except InternalError as error:
            return _problems_response(500, [Problem(f"internal error (please report): {error}")])

    async def page(request: Request) -> Response:
        name = request.query_params.get("case", DEFAULT_CASE)
        path = bench.cases.get(name)
        asked = "case" in request.query_params
        notice = f"no bundled case named '{name}'" if asked and path is None else None
        return templates.TemplateResponse(request, "workbench.html", {
            "cases": list(bench.cases), "selected": name if path else None,
            "text": path.read_text(encoding="utf-8") if path else "", "filename": path.name if path else "case.yaml",
            "notice": notice, "rulebook": bench.rulebook, "max_kib": max_body_bytes // 1024,
        }, status_code=404 if notice else 200)

    async def list_cases(request: Request) -> Response:
        return SafeJSONResponse({"cases": list(bench.cases)})

    async def bundled_case(request: Request) -> Response:
        name = request.path_params["name"]
        path = bench.cases.get(name)
        if path is None:
            return _problems_response(404, [Problem(f"no bundled case named '{name}'", field="case",
                                                    expected=", ".join(bench.cases))])
        return SafeJSONResponse({"name": name, "filename": path.name, "text": path.read_text(encoding="utf-8")})

    async def judged(query: Query, **extra: Any) -> Response:
        """The page's answer. A text that is not a valid case is an answer too (200, ok false, its
        problems with their places), as the editor is expected to hold broken text while it is edited."""
        try:
            data = await run_in_threadpool(bench.judge, query)
        except InputError as error:
            data = {"ok": False, "problems": [problem_data(p) for p in error.problems]}
        return SafeJSONResponse({**data, **extra})

    async def evaluate(request: Request) -> Response:
        async def work() -> Response:
            return await judged(parse_query(await read_body(request, max_body_bytes)))
        return await guarded(request, work)

    async def upload(request: Request) -> Response:
        """A file's bytes as the body (its name in X-Filename): decoded, then judged like the editor's text."""
        async def work() -> Response:
            body = await read_body(request, max_body_bytes)
            filename = safe_filename(unquote(request.headers.get("x-filename", "")), "upload.yaml")
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as error:
                raise _Refused(422, [Problem(f"file is not UTF-8 text (byte {error.start + 1})",
                                             file=filename)]) from None
            return await judged(Query(text, filename, None, None), text=text, filename=filename)
        return await guarded(request, work)

    async def download(request: Request) -> Response:
        kind = request.path_params["kind"]

        async def work() -> Response:
            if kind not in DOWNLOADS:
                raise _refused(404, "unknown download", field="kind", expected=", ".join(DOWNLOADS))
            query = parse_query(await read_body(request, max_body_bytes))
            name, content = await run_in_threadpool(bench.download, query, kind)
            return Response(content, media_type=DOWNLOADS[kind][0],
                            headers={"content-disposition": _attachment(name)})
        return await guarded(request, work)

    routes = [
        Route("/", page),
        Route("/api/cases", list_cases),
        Route("/api/cases/{name}", bundled_case),
        Route("/api/evaluate", evaluate, methods=["POST"]),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/download/{kind}", download, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    hosts = ["*"] if allow_remote else list(LOOPBACK_NAMES)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        bench.close()

    app = Starlette(routes=routes, middleware=[Middleware(_SecurityHeaders),
                                               Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
                    lifespan=lifespan)
    app.state.workbench = bench
    return app
