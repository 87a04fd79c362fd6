"""Real-browser tests: the dashboards (Voilà) and the HTML report in Debian chromium.

The DisCo scanner is driven with the keyboard and its numbers compared with the
scan table. Every dashboard and the report are also checked as pictures: no ``$``
left in the visible text (TeX that was not typeset), no broken image, no image
outside the widget (a stray matplotlib figure below it).

Skipped when ``chromium`` is missing, unless ``DECORR_AF_REQUIRE_BROWSER=1`` (CI),
in which case the missing browser is a failure.
"""

from __future__ import annotations

import json
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
from test_widgets import make_calibration_result, make_photon_scan, make_zee_calibration_result

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "widgets" / "disco_scanner.ipynb"
#: the CSS class of each dashboard's widget
WIDGET_CLASS = {
    "disco_scanner.ipynb": "decorr-disco-scanner",
    "datamc_inspector.ipynb": "decorr-datamc-inspector",
    "resolution_inspector.ipynb": "decorr-resolution-inspector",
}
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
    url = _serve(NOTEBOOK, {"DECORR_AF_SCAN_DIR": str(scan_dir)}, tmp_path, request)
    return url, scan_dir


def _serve(notebook: Path, env_vars: dict, tmp_path: Path, request) -> str:
    """Start Voilà on ``notebook`` (stopped by a finalizer) and return its URL."""
    port = _free_port()
    env = {**os.environ, **env_vars}
    env.pop("MPLBACKEND", None)  # the kernel's own (inline) backend, as a user has it
    log = open(tmp_path / "voila.log", "w")  # noqa: SIM115 - closed in the finalizer
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
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

    request.addfinalizer(stop)  # also runs if the start-up wait fails
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180  # a loaded 2-core machine starts Voilà slowly
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
    return url


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


def _picture_problems(page, root: str | None) -> list[str]:
    """What a reader would see wrong: raw ``$``, broken images, images outside the widget."""
    problems = []
    text = page.inner_text("body")
    for line in text.splitlines():
        if "$" in line:
            problems.append(f"visible text shows '$': {line.strip()[:120]!r}")
    images = page.eval_on_selector_all(
        "img",
        "(els, root) => els.map(e => ({src: (e.getAttribute('src') || '').slice(0, 60),"
        " ok: e.complete && e.naturalWidth > 0,"
        " inside: root === null || e.closest('.' + root) !== null}))",
        root,
    )
    for img in images:
        if not img["ok"]:
            problems.append(f"broken image {img['src']!r}")
        if not img["inside"]:
            problems.append(f"image outside the widget (stray figure?) {img['src']!r}")
    return problems


def _launch(p, exe: str):
    return p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)


def _open_dashboard(browser, url: str, selector: str, n_images: int):
    """A page of the served dashboard once ``n_images`` images under ``selector`` have loaded."""
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(url, timeout=90_000)
    page.wait_for_function(
        "([root, n]) => Array.from(document.querySelectorAll(`${root} img`))"
        ".filter(e => e.complete && e.naturalWidth > 0).length >= n",
        arg=[selector, n_images],
        timeout=90_000,
    )
    return page


def _dashboard_env(name: str, tmp_path: Path) -> tuple[dict, int]:
    """Environment of a dashboard on small fabricated inputs, and the images it shows."""
    if name == "disco_scanner.ipynb":
        scan_dir = make_photon_scan(tmp_path / "scan", strengths=(0.0, 0.5, 5.0), n=800)
        return {"DECORR_AF_SCAN_DIR": str(scan_dir)}, 3
    if name == "resolution_inspector.ipynb":  # a real calibration run: MC panels + Z→ee panels
        calib = make_zee_calibration_result(tmp_path / "calib")
        return {"DECORR_AF_CALIB_DIR": str(calib)}, 5
    calib = make_calibration_result(tmp_path / "calib")
    return {"DECORR_AF_CALIB_DIR": str(calib)}, 2


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WIDGET_CLASS))
def test_dashboard_pictures_in_chromium(name, tmp_path, request):
    """Each dashboard as a user sees it: typeset labels, every image loaded, nothing stray."""
    exe = _require_browser()
    from playwright.sync_api import sync_playwright

    env, n_images = _dashboard_env(name, tmp_path)
    url = _serve(ROOT / "widgets" / name, env, tmp_path, request)
    root = WIDGET_CLASS[name]
    with sync_playwright() as p:
        browser = _launch(p, exe)
        try:
            page = _open_dashboard(browser, url, f".{root}", n_images)
            page.wait_for_load_state("networkidle")
            assert page.locator(f".{root} .decorr-error").count() == 0
            problems = _picture_problems(page, root)
            page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_scanner_error_state_in_chromium(tmp_path, request):
    """A missing scan directory: the error alone; no empty images, no button to press."""
    exe = _require_browser()
    from playwright.sync_api import sync_playwright

    url = _serve(NOTEBOOK, {"DECORR_AF_SCAN_DIR": str(tmp_path / "missing")}, tmp_path, request)
    with sync_playwright() as p:
        browser = _launch(p, exe)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(url, timeout=90_000)
            page.wait_for_selector(".decorr-disco-scanner .decorr-error", timeout=90_000)
            text = page.inner_text(".decorr-disco-scanner")
            n_img = page.locator(".decorr-disco-scanner img").count()
            n_buttons = page.locator(".decorr-disco-scanner button").count()
            n_select = page.locator(".decorr-disco-scanner select").count()
        finally:
            browser.close()
    assert "does not exist" in text
    assert (n_img, n_buttons, n_select) == (0, 0, 0)


def _report_dir(tmp_path: Path) -> Path:
    """A demo-like directory with a photon-ID scan, its workflow figures and a report."""
    from matplotlib.figure import Figure

    from decorr_af.plot import photon_id as P
    from decorr_af.plot.style import use_style
    from decorr_af.report import write_report
    from decorr_af.scan import load_scan

    root = tmp_path / "report"
    scan_dir = make_photon_scan(root / "scans" / "photon_id", strengths=(0.0, 0.5, 5.0), n=1500)
    scan = load_scan(scan_dir)
    res = scan.result(scan.table.sort_values("strength")["id"].iloc[-1])
    use_style()
    fig_dir = scan_dir / "figures"
    fig_dir.mkdir()
    captions = {}
    for stem, draw in (
        ("roc", lambda ax: P.plot_roc(res, ax=ax)),
        ("isolation_pass_fail_disco", lambda ax: P.plot_isolation_pass_fail(res, "disco_mlp", ax=ax)),
        ("efficiency_vs_isolation", lambda ax: P.plot_efficiency_vs_isolation(res, ax=ax)),
    ):  # fmt: skip
        fig = Figure(figsize=(7, 5.6))
        draw(fig.add_subplot())
        fig.savefig(fig_dir / f"{stem}.png", dpi=90, bbox_inches="tight")
        captions[f"{stem}.png"] = stem.replace("_", " ")
    (fig_dir / "figures.json").write_text(json.dumps(captions))
    write_report(root)
    return root


@pytest.mark.slow
def test_report_pictures_in_chromium(tmp_path):
    """The HTML report: every image loads, no raw TeX, photon ID first, readable labels."""
    exe = _require_browser()
    from playwright.sync_api import sync_playwright

    root = _report_dir(tmp_path)
    with sync_playwright() as p:
        browser = _launch(p, exe)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto((root / "report.html").as_uri(), timeout=60_000)
            page.wait_for_load_state("load")
            problems = _picture_problems(page, None)
            n_images = page.locator("figure img").count()
            text = page.inner_text("body")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
    assert n_images >= 6  # Pareto + metric plots + the three workflow figures
    assert "DisCo MLP: R50" in text


@pytest.mark.slow
def test_resolution_dashboard_in_chromium(tmp_path, request):
    """A real calibration run: MC panels, Z→ee α shown as stored, m_ee redrawn per regression."""
    exe = _require_browser()
    from playwright.sync_api import sync_playwright

    from decorr_af.workflows.base import RunResult

    env, n_images = _dashboard_env("resolution_inspector.ipynb", tmp_path)
    res = RunResult.load(env["DECORR_AF_CALIB_DIR"])
    url = _serve(ROOT / "widgets" / "resolution_inspector.ipynb", env, tmp_path, request)
    root = ".decorr-resolution-inspector"
    with sync_playwright() as p:
        browser = _launch(p, exe)
        try:
            page = _open_dashboard(browser, url, root, n_images)
            shown = {k: _metric(page, k) for k in ("shapes_mlp.alpha", "shapes_mlp.cprime")}
            text = page.inner_text(root)
            srcs = page.eval_on_selector_all(f"{root} img", "els => els.map(e => e.src)")
            mee = page.locator(f"{root} .widget-dropdown", has_text="m_ee after").locator("select")
            assert mee.input_value() == "shapes_mlp"
            mee.select_option("raw")
            page.wait_for_function(
                "([root, old]) => document.querySelectorAll(`${root} img`)[2].src !== old",
                arg=[root, srcs[2]],
                timeout=30_000,
            )
            after = page.eval_on_selector_all(f"{root} img", "els => els.map(e => e.src)")
            n_errors = page.locator(f"{root} .decorr-error").count()
        finally:
            browser.close()
    for key, value in shown.items():
        assert value == pytest.approx(res.metrics[key], rel=1e-3), key
    assert "Z→ee line shapes (no truth in data)" in text
    assert "MC simulation" in text
    assert after[2] != srcs[2]
    assert n_errors == 0
