"""The workbench in a real browser: headless Chromium (Debian's chromium + chromium-driver) through Selenium.

The server runs on a free loopback port; the page is driven as a user would: open QingCloud's pricing case,
move the price to one fen below and at the break-even price, paste a broken case, judge under another date.
Every wait is explicit and bounded (no sleeps). Skips when Chromium, chromedriver or Selenium is absent.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tools():
    spec = importlib.util.spec_from_file_location("workbench_browser", ROOT / "scripts" / "workbench_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tools = _tools()
pytestmark = pytest.mark.skipif(tools.missing_tools() is not None, reason=str(tools.missing_tools()))


@pytest.fixture(scope="module")
def browser(rulebook):
    from engine.frontends.web import create_app

    base, stop = tools.start_server(create_app(rulebook=rulebook))
    driver = tools.chrome()
    try:
        yield driver, base
    finally:
        driver.quit()
        stop()


def _by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _report_text(driver) -> str:
    from selenium.webdriver.common.by import By

    driver.switch_to.frame(_by_id(driver, "report"))
    try:
        return driver.find_element(By.TAG_NAME, "body").text
    finally:
        driver.switch_to.default_content()


def _paste(driver, element_id: str, text: str, event: str = "input") -> None:
    """What a paste (or a date picked) looks like to the page: the value changes, then its event fires."""
    driver.execute_script("const e = document.getElementById(arguments[0]); e.value = arguments[1];"
                          "e.dispatchEvent(new Event(arguments[2], {bubbles: true}));", element_id, text, event)


def test_price_slider_abort_and_proceed_then_a_broken_case(browser):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver, base = browser
    driver.get(base + "/?case=qingcloud-filing")
    tools.wait_for(driver, tools.text_of("verdict", "ELIGIBLE"), "QingCloud at filing judged")
    assert "filing" in _by_id(driver, "pricing-note").text

    # open QingCloud's pricing case from the bundled cases: at its own 63.70元 the issuance proceeds
    Select(_by_id(driver, "case-select")).select_by_value("qingcloud-pricing")
    tools.wait_for(driver, tools.text_of("market-cap", "3,023,340,547.50元"), "the pricing case at 63.70元")
    assert _by_id(driver, "issuance").text == "proceeds"
    marks = {m.text for m in driver.find_elements("css selector", "#scale .mark")}
    assert {"2.1.2(2) 31.61元/股", "2.1.2(4) 63.21元/股"} <= marks

    # one fen below the break-even price: the chosen standard fails and the abort rule fires
    tools.set_price(driver, "63.20")
    tools.wait_for(driver, tools.text_of("issuance", "ABORT"), "the abort at 63.20元")
    assert _by_id(driver, "verdict").text == "NOT ELIGIBLE"
    assert _by_id(driver, "market-cap").text == "2,999,609,460.00元"
    assert _by_id(driver, "holding").text == "2.1.2(2)"
    tools.wait_for(driver, lambda d: "NOT ELIGIBLE" in _report_text(d), "the report at 63.20元")  # srcdoc loads apart
    assert "abort.market-cap" in _report_text(driver)

    # one step of the slider up (one fen): 63.21元, the break-even price, and the issuance proceeds
    _by_id(driver, "price-slider").send_keys(Keys.ARROW_RIGHT)
    tools.wait_for(driver, tools.text_of("issuance", "proceeds"), "the issuance to proceed at 63.21元")
    assert _by_id(driver, "price").get_attribute("value") == "63.21"
    assert _by_id(driver, "market-cap").text == "3,000,084,081.75元"
    assert _by_id(driver, "holding").text == "2.1.2(2), 2.1.2(4)"
    assert _by_id(driver, "verdict").text == "ELIGIBLE"

    # judged under the rules in force on another date: what changed, as `rules diff` says
    _paste(driver, "as-of", "2024-06-01", "change")
    tools.wait_for(driver, lambda d: not _by_id(d, "revision").get_attribute("hidden")
                   and "2024-06-01" in _by_id(d, "revision-dates").text, "the revision panel")
    assert "issuance.10" in _by_id(driver, "revision-changes").text

    # upload a case file: its text goes into the editor and is judged (the as-of date still applies)
    _by_id(driver, "as-of-clear").click()
    _by_id(driver, "upload").send_keys(str(ROOT / "cases" / "std5-biotech.yaml"))
    tools.wait_for(driver, tools.text_of("filename", "std5-biotech.yaml"), "the uploaded file's name")
    tools.wait_for(driver, tools.text_of("verdict", "ELIGIBLE"), "the uploaded case judged")
    assert _by_id(driver, "editor").get_attribute("value") == \
        (ROOT / "cases" / "std5-biotech.yaml").read_text(encoding="utf-8")
    tools.wait_for(driver, lambda d: "std5-biotech" in _report_text(d), "the uploaded case's report")

    # a broken case: the error with its line and field, next to the text; the gutter marks the line
    text = (ROOT / "cases" / "qingcloud-pricing.yaml").read_text(encoding="utf-8")
    broken = text.replace("new_shares: 12,000,000股", "new_shares: 12,000,000")
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if "new_shares: 12,000,000 " in row)
    _paste(driver, "editor", broken)
    tools.wait_for(driver, lambda d: _by_id(d, "problems").is_displayed(), "the located error")
    problem = _by_id(driver, "problem-list").text
    assert f"line {line}, column 3" in problem and "offering.new_shares" in problem and "has no unit" in problem
    assert f"{line} ▶" in _by_id(driver, "gutter").text

    # nothing on the console, and nothing requested from anywhere but the workbench
    assert driver.get_log("browser") == []
    urls = tools.requested_urls(driver)
    assert any(url.startswith(base + "/api/evaluate") for url in urls)
    assert tools.foreign_requests(urls, base) == []


def test_a_request_elsewhere_is_refused_by_the_page_policy_and_logged(browser):
    """The console check is not vacuous: a fetch to another address is refused (CSP) and logged."""
    driver, base = browser
    driver.get(base + "/?case=qingcloud-filing")
    tools.wait_for(driver, tools.text_of("verdict", "ELIGIBLE"), "the page")
    driver.execute_script("fetch('http://192.0.2.1/x').catch(() => null)")
    logs = driver.get_log("browser")
    assert any("Content Security Policy" in entry["message"] for entry in logs)
    assert tools.foreign_requests([base + "/api/evaluate", "data:,", "http://192.0.2.1/x"], base) == \
        ["http://192.0.2.1/x"]


def test_downloads_from_the_page(browser, tmp_path):
    """The page's buttons save the HTML report, the JSON and the case file as edited (at the slider's price)."""
    driver, base = browser
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    driver.get(base + "/?case=qingcloud-pricing")
    tools.wait_for(driver, tools.text_of("issuance", "proceeds"), "the pricing case")
    tools.set_price(driver, "63.20")
    tools.wait_for(driver, tools.text_of("issuance", "ABORT"), "the abort at 63.20元")
    _paste(driver, "editor", _by_id(driver, "editor").get_attribute("value") + "# edited\n")  # downloads read it
    names = {"html": "qingcloud-pricing.html", "json": "qingcloud-pricing.json", "yaml": "qingcloud-pricing.yaml"}
    for kind, name in names.items():
        driver.find_element("css selector", f"[data-download='{kind}']").click()
        tools.wait_for(driver, lambda d: (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 0,
                       f"{name} saved")
    import json

    assert json.loads((tmp_path / "qingcloud-pricing.json").read_text(encoding="utf-8"))["verdict"] == "not_eligible"
    assert "NOT ELIGIBLE" in (tmp_path / "qingcloud-pricing.html").read_text(encoding="utf-8")
    assert (tmp_path / "qingcloud-pricing.yaml").read_text(encoding="utf-8").endswith("# edited\n")
    assert driver.get_log("browser") == []
