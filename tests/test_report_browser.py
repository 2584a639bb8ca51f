"""The report renders in a real browser: headless Chromium over the DevTools protocol.

Every <img> must have loaded (complete, natural width > 0) and the page must log no
console errors or exceptions.  A deliberately broken page checks that the checker can fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from reports.compare import write_compare
from reports.html import write_report
from tests.test_reports import fake_run

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
if CHROMIUM is None:
    pytest.skip("headless Chromium not found (Debian: apt-get install -y chromium)", allow_module_level=True)

ws_client = pytest.importorskip("websockets.sync.client")


class Browser:
    """A headless Chromium we start, talk to over CDP, and stop (by its process group)."""

    def __init__(self, profile: Path) -> None:
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        self.url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        self.ws = None
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        """Send a CDP command and return its result, keeping events seen meanwhile."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        """Block until an event named ``method`` arrives."""
        if any(e.get("method") == method for e in self.events):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            self.events.append(msg)
            if msg.get("method") == method:
                return
        raise TimeoutError(method)

    def close(self) -> None:
        """Stop the browser's process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def render(page: Path, profile: Path) -> tuple[list[list], list[str]]:
    """Load ``page``; return [complete, naturalWidth] per image and the console errors."""
    b = Browser(profile)
    try:
        with ws_client.connect(b.url, max_size=None, open_timeout=10) as ws:
            b.ws = ws
            images = _load(b, page)
    finally:
        b.close()
    return images, _errors(b.events)


def _load(b: Browser, page: Path) -> list[list]:
    for domain in ("Page", "Runtime", "Log"):
        b.call(f"{domain}.enable")
    b.call("Page.navigate", url=page.resolve().as_uri())
    b.wait_for("Page.loadEventFired")
    res = b.call("Runtime.evaluate", returnByValue=True,
                 expression="Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    b.call("Runtime.evaluate", expression="1")  # flush events queued before this point
    return res["result"]["value"]


def _errors(events: list[dict]) -> list[str]:
    errors = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            errors.append(p["exceptionDetails"].get("text", "exception"))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            errors.append(p["entry"].get("text", ""))
    return errors


def test_report_renders_without_errors(tmp_path):
    run = fake_run(tmp_path / "run")
    images, errors = render(write_report(run), tmp_path / "profile")
    assert len(images) == 8
    assert all(ok and width > 0 for ok, width in images), images
    assert errors == []


def test_compare_page_renders_without_errors(tmp_path):
    a, b = fake_run(tmp_path / "a", seed=1), fake_run(tmp_path / "b", seed=2, helpline=False)
    images, errors = render(write_compare(a, b), tmp_path / "profile")
    assert len(images) == 8 + 7 + 1
    assert all(ok and width > 0 for ok, width in images), images
    assert errors == []


def test_report_of_a_real_run_renders_without_errors(tmp_path):
    from sim.config import load_scenario
    from sim.runner import run_one, write_run

    sc = load_scenario("baseline", ["horizon_days=2", "geography.districts=[Lucknow, Kanpur Nagar]"])
    run = write_run(run_one(sc), tmp_path / "real")
    images, errors = render(write_report(run), tmp_path / "profile")
    assert len(images) >= 4
    assert all(ok and width > 0 for ok, width in images), images
    assert errors == []


def test_checker_catches_a_broken_page(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA">'
                   '<script>console.error("boom")</script></body></html>')
    images, errors = render(bad, tmp_path / "profile")
    assert images and images[0][1] == 0
    assert any("boom" in e for e in errors)


def test_district_tables_sort_on_click_and_history_renders(tmp_path):
    from tests.test_reports import add_snapshots

    run = add_snapshots(fake_run(tmp_path / "run"))
    page = write_report(run)
    b = Browser(tmp_path / "profile")
    try:
        with ws_client.connect(b.url, max_size=None, open_timeout=10) as ws:
            b.ws = ws
            images = _load(b, page)
            script = """(() => {
              const t = document.querySelector("table.sortable"), th = t.tHead.rows[0].cells;
              const col = i => Array.from(t.tBodies[0].rows).map(r => r.cells[i].textContent);
              th[0].click(); const byName = col(0);
              th[2].click(); const up = col(2).map(Number); th[2].click(); const down = col(2).map(Number);
              return [byName, up, down];
            })()"""
            by_name, up, down = b.call("Runtime.evaluate", expression=script, returnByValue=True)["result"]["value"]
            b.call("Runtime.evaluate", expression="1")
    finally:
        b.close()
    assert by_name == sorted(by_name) and len(by_name) == 3
    assert up == sorted(up) and down == sorted(up, reverse=True)
    assert len(images) == 9 and all(ok and width > 0 for ok, width in images)
    assert _errors(b.events) == []
