"""The workbench's HTTP surface (`check-listing serve`), through Starlette's TestClient: every route, the
engine's answers (not the page's), bad and oversize uploads, and echoed input escaped everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from engine import load_case_text
from engine.frontends.cli import main
from engine.decide.pricing import at_price, break_even_prices, evaluate_priced
from engine.output.report import format_html, format_json
from engine.decide.revision import case_impacts, changed_rules
from engine.frontends.web import create_app, is_loopback

ROOT = Path(__file__).resolve().parent.parent
PRICING = (ROOT / "cases" / "qingcloud-pricing.yaml").read_text(encoding="utf-8")
FILING = (ROOT / "cases" / "qingcloud-filing.yaml").read_text(encoding="utf-8")
BASE = "http://127.0.0.1:8765"
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def app(rulebook):
    return create_app(rulebook=rulebook, max_body_bytes=64 * 1024)


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app, base_url=BASE)


def evaluate(client, text=PRICING, **fields):
    response = client.post("/api/evaluate", json={"text": text, "filename": "qingcloud-pricing.yaml", **fields})
    return response, response.json()


def test_the_page_is_served_with_the_case_in_the_editor_and_a_strict_policy(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "北京青云科技股份有限公司" in response.text and "issue_price: 63.70元/股" in response.text
    for case in sorted((ROOT / "cases").glob("*.yaml")):
        assert f'<option value="{case.stem}"' in response.text
    assert "http://" not in response.text.replace(BASE, "") and "https://" not in response.text
    chosen = client.get("/?case=std5-biotech")
    assert '<option value="std5-biotech" selected>' in chosen.text


def test_an_unknown_case_in_the_address_is_escaped(client):
    response = client.get("/", params={"case": "<script>alert(1)</script>"})
    assert response.status_code == 404
    assert "<script>alert" not in response.text
    assert "no bundled case named &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39;" in response.text


def test_static_assets_are_local(client):
    script = client.get("/static/workbench.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "http" not in script.text.replace("http://192", "")  # no absolute address in the page's script
    assert client.get("/static/workbench.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/nothing.js").status_code == 404


def test_bundled_cases_are_listed_and_served(client):
    names = client.get("/api/cases").json()["cases"]
    assert names == sorted(p.stem for p in (ROOT / "cases").glob("*.yaml"))
    served = client.get("/api/cases/qingcloud-filing").json()
    assert served["text"] == FILING and served["filename"] == "qingcloud-filing.yaml"


def test_an_unknown_bundled_case_is_escaped_json(client):
    response = client.get("/api/cases/" + EVIL)
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"
    assert b"<img" not in response.content and b"\\u003cimg" in response.content
    assert response.json()["problems"][0]["message"] == f"no bundled case named '{EVIL}'"


def test_the_price_decides_the_abort_through_the_engine(client, evaluator):
    _, low = evaluate(client, price="63.20")
    _, high = evaluate(client, price="63.21元")
    assert (low["pricing"]["at"]["issuance"], low["pricing"]["at"]["aborts"], low["verdict"]) == \
        ("ABORT", True, "not_eligible")
    assert low["pricing"]["at"]["market_cap"] == "2,999,609,460.00元"
    assert low["pricing"]["at"]["standards_holding"] == ["2.1.2(2)"]
    assert (high["pricing"]["at"]["issuance"], high["verdict"]) == ("proceeds", "eligible")
    assert high["pricing"]["at"]["standards_holding"] == ["2.1.2(2)", "2.1.2(4)"]
    # the page's report is the HTML report, word for word, of the same case at the same price
    loaded = load_case_text(PRICING, "qingcloud-pricing.yaml")
    from decimal import Decimal

    assert low["report_html"] == format_html(evaluate_priced(evaluator, at_price(loaded, Decimal("63.20"))))
    assert high["report_html"] == format_html(evaluate_priced(evaluator, at_price(loaded, Decimal("63.21"))))
    # the marks on the scale are the engine's break-even prices, and the scale holds them all
    engine = break_even_prices(evaluator, loaded, loaded.case.evaluation.date)
    marks = {m["standard"]: m for m in low["pricing"]["break_even"]}
    for item in engine:
        expected = int(item.price.value * 100) if item.price is not None else None
        assert marks[item.standard]["fen"] == expected and marks[item.standard]["chosen"] == item.chosen
    scale = low["pricing"]["scale"]
    assert scale["min_fen"] < 3161 and 6370 < scale["max_fen"]
    assert scale == high["pricing"]["scale"]  # the scale does not move with the slider


def test_the_case_price_and_a_case_at_filing(client):
    _, own = evaluate(client)
    assert own["pricing"]["at"]["price"] == "63.70" and own["pricing"]["case_price"] == "63.70"
    _, filing = evaluate(client, FILING)
    assert filing["pricing"]["at"] is None and filing["pricing"]["stage"] == "filing"
    assert any(m["fen"] == 6321 for m in filing["pricing"]["break_even"])  # 30亿元 / 47,462,175 shares
    _, priced = evaluate(client, FILING, price="63.20")
    assert priced["pricing"]["at"]["issuance"] == "ABORT"


def test_as_of_shows_what_rules_diff_shows(client, rulebook, evaluator):
    _, data = evaluate(client, as_of="2024-06-01")
    revision = data["revision"]
    assert data["as_of"] == "2024-06-01" and revision["old"] == "2021-03-01"
    import datetime as dt

    expected = changed_rules(rulebook, dt.date(2021, 3, 1), rulebook, dt.date(2024, 6, 1))
    assert [c["rule_id"] for c in revision["changes"]] == [c.rule_id for c in expected]
    assert revision["new_verdict"] == data["verdict"]
    [impact] = case_impacts(evaluator, None, evaluator, dt.date(2024, 6, 1),
                            [load_case_text(PRICING, "qingcloud-pricing.yaml")])
    assert (revision["old_verdict"], revision["new_verdict"]) == (impact.old_verdict, impact.new_verdict)
    assert [(f["rule_id"], f["old"], f["new"]) for f in revision["flips"]] == \
        [(f.rule_id, f.old, f.new) for f in impact.flips] != []
    assert evaluate(client)[1]["revision"] is None


def test_a_broken_case_is_an_answer_with_its_place(client):
    response, data = evaluate(client, PRICING.replace("new_shares: 12,000,000股", "new_shares: 12,000,000"))
    assert response.status_code == 200 and data["ok"] is False
    [problem] = data["problems"]
    line = next(i for i, row in enumerate(PRICING.splitlines(), 1) if row.startswith("  new_shares:"))
    assert (problem["line"], problem["column"], problem["field"]) == (line, 3, "offering.new_shares")
    assert problem["text"].startswith(f"qingcloud-pricing.yaml:{line}:3: offering.new_shares:")
    _, malformed = evaluate(client, "case_id: [unclosed")
    assert malformed["ok"] is False and malformed["problems"][0]["message"].startswith("malformed YAML")
    _, tagged = evaluate(client, "case_id: !!python/object:os.system x")
    assert tagged["ok"] is False
    _, early = evaluate(client, as_of="1999-01-01")
    assert early["ok"] is False and "no STAR Market rule is in force" in early["problems"][0]["message"]


@pytest.mark.parametrize("body, field", [
    (b"not json", None), (b"[" * 60_000, None), (json.dumps({"filename": "x"}).encode(), "text"),
    (json.dumps({"text": PRICING, "price": "abc"}).encode(), "price"),
    (json.dumps({"text": PRICING, "price": "-1"}).encode(), "price"),
    (json.dumps({"text": PRICING, "price": True}).encode(), "price"),
    (json.dumps({"text": PRICING, "price": "1e11"}).encode(), "price"),
    (json.dumps({"text": PRICING, "as_of": "2021-02-30"}).encode(), "as_of"),
    (json.dumps({"text": PRICING, "as_of": 20210301}).encode(), "as_of"),
])
def test_bad_requests_are_refused_with_the_field(client, body, field):
    response = client.post("/api/evaluate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["problems"][0]["field"] == field


def test_a_case_id_with_html_is_refused(client):
    """A case id is letters, digits, '.', '_' and '-' (issue 12): markup cannot hide in it."""
    _, data = evaluate(client, PRICING.replace("case_id: qingcloud-pricing", f"case_id: '{EVIL}\"'"))
    assert data["ok"] is False and "case_id" in json.dumps(data, ensure_ascii=False)


def test_an_issuer_name_with_html_is_escaped_in_every_answer(client):
    text = PRICING.replace("  name: 北京青云科技股份有限公司", f"  name: '{EVIL}\"'")
    response, data = evaluate(client, text)
    assert data["issuer"] == EVIL + '"'
    assert b"<img" not in response.content  # JSON escapes < > & as \u003c …
    assert EVIL not in data["report_html"] and "&lt;img src=x onerror=alert(1)&gt;" in data["report_html"]
    for kind in ("html", "json", "yaml"):
        download = client.post(f"/api/download/{kind}", json={"text": text, "filename": f"{EVIL}.yaml"})
        assert download.status_code == 200
        disposition = download.headers["content-disposition"]
        assert "<" not in disposition and disposition.count('"') == 2
    html = client.post("/api/download/html", json={"text": text}).text
    assert EVIL not in html and "&lt;img" in html


def test_downloads_are_the_report_json_and_the_case_as_edited(client, evaluator):
    edited = PRICING + "# edited in the workbench\n"
    html = client.post("/api/download/html", json={"text": edited, "filename": "q.yaml", "price": "63.20"})
    assert html.headers["content-type"].startswith("text/html")
    assert 'filename="qingcloud-pricing.html"' in html.headers["content-disposition"]
    loaded = load_case_text(edited, "q.yaml")
    from decimal import Decimal

    result = evaluate_priced(evaluator, at_price(loaded, Decimal("63.20")))
    assert html.text == format_html(result)
    data = client.post("/api/download/json", json={"text": edited, "filename": "q.yaml", "price": "63.20"})
    assert data.headers["content-type"].startswith("application/json") and data.text == format_json(result)
    case = client.post("/api/download/yaml", json={"text": "broken: [", "filename": "mine.yaml"})
    assert case.text == "broken: [" and 'filename="mine.yaml"' in case.headers["content-disposition"]
    assert client.post("/api/download/pdf", json={"text": edited}).status_code == 404
    broken = client.post("/api/download/html", json={"text": "broken: ["})
    assert broken.status_code == 422 and "malformed YAML" in broken.json()["problems"][0]["message"]


def test_upload_goes_through_the_safe_loader(client):
    response = client.post("/api/upload", content=PRICING.encode(), headers={"x-filename": "%E9%9D%92%E4%BA%91.yaml"})
    data = response.json()
    assert response.status_code == 200 and data["ok"] and data["text"] == PRICING and data["filename"] == "青云.yaml"
    assert data["pricing"]["at"]["issuance"] == "proceeds"
    traversal = client.post("/api/upload", content=b"case_id: x\n", headers={"x-filename": "../../etc/" + EVIL})
    assert traversal.json()["filename"] == EVIL and b"<img" not in traversal.content
    assert traversal.json()["ok"] is False  # a mapping without the case's fields


def test_bad_uploads(client):
    latin = client.post("/api/upload", content="名称".encode("gb18030"), headers={"x-filename": "gbk.yaml"})
    assert latin.status_code == 422
    assert latin.json()["problems"][0]["message"].startswith("file is not UTF-8 text")
    binary = client.post("/api/upload", content=b"\x00\x01\x02", headers={"x-filename": "bin.yaml"})
    assert binary.json()["ok"] is False
    empty = client.post("/api/upload", content=b"", headers={"x-filename": "empty.yaml"})
    assert empty.json()["ok"] is False and "mapping" in empty.json()["problems"][0]["message"]


def test_oversize_bodies_are_refused_whatever_content_length_says(client):
    big = b"# " + b"x" * (64 * 1024)
    declared = client.post("/api/upload", content=big)
    assert declared.status_code == 413 and "larger than 64 KiB" in declared.json()["problems"][0]["message"]

    def chunks():  # no Content-Length: the body is counted as it arrives
        for _ in range(100):
            yield b"x" * 1024

    streamed = client.post("/api/upload", content=chunks())
    assert streamed.status_code == 413
    lying = client.post("/api/evaluate", content=chunks(), headers={"content-type": "application/json"})
    assert lying.status_code == 413
    bad_length = client.post("/api/evaluate", content=b"{}", headers={"content-length": "-5"})
    assert bad_length.status_code in (400, 413)


def test_only_loopback_hosts_and_the_same_origin(app, rulebook):
    assert TestClient(app, base_url="http://evil.example").get("/").status_code == 400  # DNS rebinding
    assert TestClient(app, base_url="http://localhost:8765").get("/").status_code == 200
    client = TestClient(app, base_url=BASE)
    foreign = client.post("/api/evaluate", json={"text": PRICING}, headers={"origin": "http://evil.example"})
    assert foreign.status_code == 403
    same = client.post("/api/evaluate", json={"text": PRICING}, headers={"origin": BASE})
    assert same.status_code == 200
    assert client.get("/api/evaluate").status_code == 405
    remote = TestClient(create_app(rulebook=rulebook, allow_remote=True), base_url="http://192.0.2.10:8765")
    assert remote.get("/").status_code == 200


def test_is_loopback():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "::", "example.com"))


def test_serve_binds_loopback_and_needs_a_flag_for_anything_else(monkeypatch):
    import engine.frontends.web

    calls = []

    def record(app, sock):
        calls.append(sock.getsockname())
        sock.close()

    monkeypatch.setattr(engine.frontends.web, "serve", record)
    real_listen = engine.frontends.web.listen
    runner = CliRunner()
    ok = runner.invoke(main, ["serve", "--port", "0"])
    assert ok.exit_code == 0 and calls[-1][0] == "127.0.0.1" and calls[-1][1] > 0
    assert f"http://127.0.0.1:{calls[-1][1]}/" in ok.output
    refused = runner.invoke(main, ["serve", "--host", "0.0.0.0"])
    assert refused.exit_code == 2 and "--allow-remote" in refused.output and len(calls) == 1
    asked = []  # the test binds loopback only: the address asked for is recorded, a loopback socket served
    monkeypatch.setattr(engine.frontends.web, "listen", lambda host, port: asked.append(host) or real_listen("127.0.0.1", 0))
    remote = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--allow-remote"])
    assert remote.exit_code == 0 and "warning: binding 0.0.0.0" in remote.output and asked == ["0.0.0.0"]


def test_serve_on_a_port_in_use_is_a_usage_error(monkeypatch):
    import engine.frontends.web

    monkeypatch.setattr(engine.frontends.web, "serve", lambda app, sock: pytest.fail("served on a taken port"))
    taken = engine.frontends.web.listen("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)])
    finally:
        taken.close()
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output


def test_serve_reports_a_broken_rules_directory(tmp_path):
    (tmp_path / "rulebook.yaml").write_text("name: x\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--rules", str(tmp_path)])
    assert result.exit_code == 2 and "rulebook.yaml" in result.output and "Traceback" not in result.output


def test_without_bundled_cases_the_page_starts_empty(rulebook, tmp_path):
    client = TestClient(create_app(rulebook=rulebook, cases_dir=tmp_path), base_url=BASE)
    page = client.get("/")
    assert page.status_code == 200 and 'id="notice"' not in page.text
    assert client.get("/api/cases").json() == {"cases": []}
    assert client.get("/api/cases/qingcloud-pricing").status_code == 404


def test_check_listing_serve_answers_on_loopback():
    """The command itself, as a process: it prints its address, serves the page there, stops on SIGTERM."""
    import re
    import select
    import subprocess
    import sys
    import urllib.request

    process = subprocess.Popen([sys.executable, "-m", "engine.frontends.cli", "serve", "--port", "0"], cwd=ROOT,
                               stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stderr], [], [], 60)
        assert ready, "check-listing serve printed nothing in 60 s"
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", process.stderr.readline())
        assert match
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
        with opener.open(match.group(0), timeout=30) as response:
            assert response.status == 200 and "STAR Market workbench" in response.read().decode("utf-8")
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()
