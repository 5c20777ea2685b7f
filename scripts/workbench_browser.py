#!/usr/bin/env python3
"""Drive the workbench (`check-listing serve`) in headless Chromium; also makes the README's screenshot.

The same tooling serves `tests/test_workbench_browser.py` and this script: the app runs in a thread on a
free loopback port (the socket is bound and listening before the browser starts, so nothing waits for it),
and Selenium drives Debian's `chromium` through `chromium-driver` at an explicit path (Selenium Manager is
never asked to download a driver or a browser). Chromium starts with no background networking and a host
resolver that resolves no name, and keeps its console and network (performance) logs for the checks.

    python scripts/workbench_browser.py --screenshot docs/workbench.png

Exit 0 on success, 2 when Chromium or chromedriver is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout: the engine beside this script
DRIVERS = ("chromedriver", "chromium-driver")
WAIT_SECONDS = 20  # every wait is explicit and bounded


def _render_script():
    spec = importlib.util.spec_from_file_location("check_html_render", Path(__file__).with_name("check_html_render.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_browser() -> str | None:
    return _render_script().find_browser()


def find_driver() -> str | None:
    return next((path for name in DRIVERS if (path := shutil.which(name))), None)


def missing_tools() -> str | None:
    """Why the browser cannot be driven here, or None when it can."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install '.[test]')"
    if find_browser() is None:
        return "Chromium is not installed (Debian: apt-get install chromium chromium-driver fonts-noto-cjk)"
    if find_driver() is None:
        return "chromedriver is not installed (Debian: apt-get install chromium-driver)"
    return None


def start_server(app: Any) -> tuple[str, Callable[[], None]]:
    """Serve `app` on a free 127.0.0.1 port in a thread; (base URL, stop)."""
    import uvicorn

    from engine.frontends.web import listen

    sock = listen("127.0.0.1", 0)  # connections queue from now on, before uvicorn accepts them
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop


def chrome(width: int = 1400, height: int = 1000):
    """A headless Chromium driven through the system chromedriver, logging console and network events."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = find_browser()
    for flag in _render_script().FLAGS:
        if not flag.startswith(("--headless", "--window-size", "--enable-logging", "--log-level",
                                "--host-resolver-rules")):
            options.add_argument(flag)
    options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")  # no name resolves
    options.add_argument("--headless=new")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=find_driver()), options=options)


def requested_urls(driver) -> list[str]:
    """Every URL the page requested since the last call (Chrome's performance log, Network domain)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def foreign_requests(urls: list[str], base: str) -> list[str]:
    """The requests that went anywhere but the workbench itself (data: and blob: stay in the page)."""
    return [url for url in urls if not url.startswith((base + "/", "data:", "blob:", "about:"))]


def wait_for(driver, condition: Callable[[Any], Any], what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS).until(condition, message=f"waited {WAIT_SECONDS}s for {what}")


def text_of(element_id: str, expected: str):
    """A wait condition: the element's text is `expected` and no evaluation is under way."""
    def check(driver) -> bool:
        from selenium.webdriver.common.by import By

        return (driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "idle"
                and driver.find_element(By.ID, element_id).text == expected)
    return check


def set_price(driver, price: str) -> None:
    """Type a price into the price box and leave it (its change event re-evaluates)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "price")
    box.send_keys(Keys.CONTROL, "a")  # select what is there (clear() would fire a change of its own)
    box.send_keys(price, Keys.TAB)


def screenshot(out: Path) -> int:
    from engine.frontends.web import create_app

    reason = missing_tools()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    base, stop = start_server(create_app())
    driver = chrome(1400, 900)
    try:
        driver.get(base + "/?case=qingcloud-pricing")
        wait_for(driver, text_of("issuance", "proceeds"), "the case at its own price")
        set_price(driver, "63.20")
        wait_for(driver, text_of("issuance", "ABORT"), "the abort at 63.20元")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()
        stop()
    print(f"{out}: {out.stat().st_size // 1024} KiB")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshot", type=Path, default=ROOT / "docs" / "workbench.png")
    return screenshot(parser.parse_args(argv).screenshot)


if __name__ == "__main__":
    sys.exit(main())
