"""The filing-ready HTML report: self-contained, well formed, complete, and rendered by a real browser."""

from __future__ import annotations

import importlib.util
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine import load_case
from engine.output.report import format_html, format_json

ROOT = Path(__file__).resolve().parent.parent
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source", "track", "embed"}


class _Structure(HTMLParser):
    """Collects tags, unbalanced nesting and every attribute that could reach outside the file."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [value or "" for name, value in attrs if name in ("src", "href", "srcset", "action", "data")]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Structure:
    parser = _Structure()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def qingcloud(evaluator):
    return evaluator.evaluate(load_case(ROOT / "cases" / "qingcloud-filing.yaml"))


def test_html_is_well_formed_and_balanced(qingcloud):
    page = parse(format_html(qingcloud))
    assert page.errors == []
    assert page.stack == []
    assert page.tags[0] == "html"


def test_html_is_self_contained(qingcloud):
    html = format_html(qingcloud)
    page = parse(html)
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert page.links == []
    assert not re.search(r"url\(|@import|https?://", html, re.IGNORECASE)
    assert '<meta charset="utf-8">' in html


def test_html_names_verdict_every_rule_citation_and_version(qingcloud):
    html = format_html(qingcloud)
    text = "".join(parse(html).text)
    data = json.loads(format_json(qingcloud))
    assert "ELIGIBLE" in text
    assert data["rulebook"]["version"] in text
    for rule in data["rules"]:
        assert rule["id"] in text
        if rule["citation"]:
            for line in rule["citation"]["quote"].splitlines():
                assert line in text, f"{rule['id']}: quoted text missing"
    for version in data["versions_used"]:
        assert version in text


def test_html_escapes_case_text(evaluate):
    html = format_html(evaluate(issuer={"name": "<b>Evil & Co</b>"}))
    assert "<b>Evil" not in html
    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in html


def _render_script():
    spec = importlib.util.spec_from_file_location("check_html_render", ROOT / "scripts" / "check_html_render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


needs_chromium = pytest.mark.skipif(_render_script().find_browser() is None,
                                    reason="Chromium is not installed (Debian: apt-get install chromium)")


@needs_chromium
def test_chromium_renders_the_report_prints_it_and_fetches_nothing(tmp_path):
    script = _render_script()
    assert script.main([str(ROOT / "cases" / "qingcloud-filing.yaml"), "--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "qingcloud-filing.png").stat().st_size > 10_000
    assert (tmp_path / "qingcloud-filing.pdf").read_bytes().startswith(b"%PDF-")


@needs_chromium
def test_the_render_check_catches_a_page_that_fetches_or_logs(tmp_path):
    script = _render_script()
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><p>ELIGIBLE</p><img src="http://example.com/a.png">'
                    '<script>console.log("boom")</script></body></html>', encoding="utf-8")
    problems = script.check_page(script.find_browser(), page, ["ELIGIBLE", "listing.2.1.1.2"], tmp_path)
    assert "the page requested http://example.com/a.png" in problems
    assert any(p.startswith("console:") and "boom" in p for p in problems)
    assert "rendered page lacks 'listing.2.1.1.2'" in problems
