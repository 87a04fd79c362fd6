"""Real-browser test of the DisCo scanner dashboard: Voilà + Debian chromium (Playwright).

Skipped when ``chromium`` is missing, unless ``DECORR_AF_REQUIRE_BROWSER=1`` (CI),
in which case the missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_widgets import make_photon_scan

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "widgets" / "disco_scanner.ipynb"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def _require_browser() -> str:
    exe = shutil.which("chromium")
    required = os.environ.get("DECORR_AF_REQUIRE_BROWSER") == "1"
    missing = []
    if exe is None:
        missing.append("the 'chromium' executable")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the 'playwright' Python package")
    try:
        import voila  # noqa: F401
    except ImportError:
        missing.append("the 'voila' package")
    if missing:
        msg = "browser test needs " + " and ".join(missing)
        if required:
            pytest.fail(msg + " (DECORR_AF_REQUIRE_BROWSER=1)")
        pytest.skip(msg)
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def voila_server(tmp_path, request):
    """Voilà serving the scanner notebook on a small scan; killed in a finalizer."""
    scan_dir = make_photon_scan(tmp_path / "scan", strengths=(0.0, 0.5, 5.0), n=800)
    port = _free_port()
    env = {**os.environ, "DECORR_AF_SCAN_DIR": str(scan_dir), "MPLBACKEND": "agg"}
    log = open(tmp_path / "voila.log", "w")  # noqa: SIM115 - closed in the finalizer
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}",
         "--Voila.ip=127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()

    request.addfinalizer(stop)  # noqa: PT021 - also runs if the start-up wait fails
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 45
    while True:
        try:  # any HTTP answer (even 403/404) means the server is up; "/" would run the notebook
            with urllib.request.urlopen(url + "favicon.ico", timeout=2):
                break
        except urllib.error.HTTPError:
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"Voilà did not start:\n{(tmp_path / 'voila.log').read_text()[-3000:]}")
            time.sleep(0.3)
    return url, scan_dir


def _metric(page, key: str) -> float | None:
    loc = page.locator(f'.decorr-metric[data-metric="{key}"]')
    if loc.count() == 0:
        return None
    m = re.search(r"=\s*([-+0-9.eE]+)", loc.first.inner_text())
    return float(m.group(1)) if m else None


def test_scanner_dashboard_in_chromium(voila_server, tmp_path):
    exe = _require_browser()
    from playwright.sync_api import sync_playwright

    from decorr_af.scan import load_scan

    url, scan_dir = voila_server
    table = load_scan(scan_dir).table.sort_values("strength")
    expected = [(row["disco_mlp.r50"], row["disco_mlp.inv_jsd"]) for _, row in table.iterrows()]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(url, timeout=60_000)
            page.wait_for_selector('.decorr-metric[data-metric="r50"]', timeout=60_000)
            page.wait_for_function(
                "document.querySelectorAll('.decorr-disco-scanner img[src]').length >= 3",
                timeout=30_000,
            )
            assert _metric(page, "r50") == pytest.approx(expected[0][0], rel=1e-3)
            assert _metric(page, "inv_jsd") == pytest.approx(expected[0][1], rel=1e-3)
            srcs = page.eval_on_selector_all(
                ".decorr-disco-scanner img", "els => els.map(e => e.src)"
            )

            handle = page.locator(".decorr-disco-scanner .noUi-handle").first
            handle.focus()
            page.keyboard.press("ArrowRight")
            deadline = time.time() + 30
            while time.time() < deadline:
                value = _metric(page, "r50")
                if value is not None and value == pytest.approx(expected[1][0], rel=1e-3):
                    break
                page.wait_for_timeout(200)
            assert _metric(page, "r50") == pytest.approx(expected[1][0], rel=1e-3)
            assert _metric(page, "inv_jsd") == pytest.approx(expected[1][1], rel=1e-3)
            page.wait_for_function(
                "old => document.querySelector('.decorr-disco-scanner img').src !== old",
                arg=srcs[0],
                timeout=30_000,
            )
            assert "λ = 0.5" in page.inner_text(".decorr-disco-scanner")
            page.screenshot(path=str(tmp_path / "disco_scanner.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "disco_scanner.png").stat().st_size > 10_000
