"""The page of `jobhub serve` in a real browser: headless Chromium (Debian's /usr/bin/chromium)
driven by Playwright over a live server and the emulator. Jobs appear and change state live, a
filter narrows the table and survives a reload, a job's detail draws its task graph, a backend
taken down shows in the health strip, backend text is shown as text. Screenshots go to
test-artifacts/serve/ (or $JOBHUB_ARTIFACTS).

Skipped without /usr/bin/chromium (install Debian's `chromium`); with JOBHUB_REQUIRE_CHROMIUM=1
(as in CI) a missing browser fails instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobhub.emulator import Emulator, Faults
from jobhub.serve import Options, Tokens
from tests.serve_helpers import Live, live_server

# One worker runs the module: one browser, one server and one emulator for all its tests.
pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("JOBHUB_ARTIFACTS", ROOT / "test-artifacts")) / "serve"
WAIT = 20_000  # ms any expectation may take

if not CHROMIUM.exists():
    if os.environ.get("JOBHUB_REQUIRE_CHROMIUM") == "1":
        pytest.fail("JOBHUB_REQUIRE_CHROMIUM=1 but /usr/bin/chromium is missing", pytrace=False)
    pytest.skip(
        "no /usr/bin/chromium: apt-get install -y chromium to run the browser tests",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(["sieve", "pixxel", "prunner"], seed=21, speed=0, await_hold=0.2) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def live(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = tmp_path_factory.mktemp("page") / "serve.db"
    options = Options(tokens=Tokens(write="write-token-for-the-page-test"))
    with live_server(emu.hub_config(), db, options) as server:
        yield server


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=live.url)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], errors


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def test_jobs_appear_and_change_state_live(emu: Emulator, page: Page) -> None:
    page.goto("/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=WAIT)
    ref = f"prunner:{emu.submit('prunner', duration=10, outcome='succeeded')}"
    new_row = page.locator(f'#jobs tbody tr[data-ref="{ref}"]')
    expect(new_row).to_have_attribute("data-state", "queued", timeout=WAIT)
    emu.clock.advance(60)
    expect(new_row).to_have_attribute("data-state", "succeeded", timeout=WAIT)
    expect(new_row.locator(".state")).to_have_text("succeeded")
    counts = page.locator('#counts tr[data-backend="prunner"] td[data-state="succeeded"]')
    expect(counts).not_to_have_text("0", timeout=WAIT)


def test_a_filter_narrows_the_table_and_survives_a_reload(emu: Emulator, page: Page) -> None:
    for n in range(4):
        emu.submit("sieve", duration=5, outcome="failed" if n % 2 else "succeeded")
    emu.clock.advance(30)
    page.goto("/")
    rows = page.locator("#jobs tbody tr")
    expect(rows.locator('[class~="state-succeeded"]').first).to_be_visible(timeout=WAIT)
    page.select_option("#filters select[name=state]", "failed")
    expect(page).to_have_url(re.compile(r"[?&]state=failed"), timeout=WAIT)
    expect(page.locator('#jobs tbody tr:not([data-state="failed"])')).to_have_count(0, timeout=WAIT)
    expect(rows.first).to_be_visible()
    page.reload()
    expect(page.locator("#filters select[name=state]")).to_have_value("failed")
    expect(rows.first).to_have_attribute("data-state", "failed", timeout=WAIT)
    expect(page.locator('#jobs tbody tr:not([data-state="failed"])')).to_have_count(0)
    shot(page, "filtered")


def test_a_jobs_detail_draws_its_task_graph_beside_its_raw_payload(
    emu: Emulator, page: Page
) -> None:
    job_id = emu.submit("prunner", duration=20, outcome="failed")
    emu.clock.advance(60)
    ref = f"prunner:{job_id}"
    page.goto("/")
    target = page.locator(f'#jobs tbody tr[data-ref="{ref}"]')
    expect(target).to_have_attribute("data-state", "failed", timeout=WAIT)
    target.focus()
    page.keyboard.press("Enter")  # keyboard-usable: Enter opens, Escape closes
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(page.locator("#detail-title")).to_have_text(ref)
    nodes = page.locator("#graph svg g.node")
    expect(nodes.first).to_be_visible(timeout=WAIT)
    job = page.evaluate("async (ref) => (await fetch('/api/v1/jobs/' + ref)).json()", ref)
    assert nodes.count() == len(job["tasks"])
    edges = sum(len(task["depends_on"]) for task in job["tasks"])
    expect(page.locator("#graph svg path.edge")).to_have_count(edges)
    expect(page.locator("#error")).to_have_text(job["error"])
    expect(page.locator("#raw")).to_contain_text(job_id)
    expect(page.locator("#normalized")).to_contain_text('"state": "failed"')
    expect(page.locator("#timeline svg rect.bar").first).to_be_visible()
    assert "job=" in page.url
    shot(page, "detail")
    page.reload()  # the open job is in the URL too
    expect(page.locator("#detail-title")).to_have_text(ref, timeout=WAIT)
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()


def test_a_backend_taken_down_shows_in_the_health_strip(emu: Emulator, page: Page) -> None:
    page.goto("/")
    chip = page.locator('#health li[data-backend="sieve"]')
    expect(chip).to_have_attribute("data-up", "true", timeout=WAIT)
    emu.faults["sieve"] = Faults(rate=1.0, kinds=("503",))
    try:
        expect(chip).to_have_attribute("data-up", "false", timeout=WAIT)
        expect(chip).to_contain_text("HTTP 503")
        shot(page, "backend-down")
    finally:
        del emu.faults["sieve"]
    expect(chip).to_have_attribute("data-up", "true", timeout=WAIT)


def test_backend_text_is_shown_as_text_never_as_markup(page: Page, live: Live) -> None:
    page.goto("/?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    expect(page.locator("#filters input[name=q]")).to_have_value("<img src=x onerror=alert(1)>")
    expect(page.locator("#empty")).to_be_visible(timeout=WAIT)
    assert page.locator("img").count() == 0


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_the_page_reads_in_dark_and_light(
    browser: Browser, live: Live, emu: Emulator, scheme: str
) -> None:
    context = browser.new_context(
        viewport={"width": 1400, "height": 800},
        base_url=live.url,
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#jobs tbody tr").first).to_be_visible(timeout=WAIT)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        dark = background == "rgb(13, 17, 23)"
        assert dark is (scheme == "dark"), background
        shot(page, f"page-{scheme}")
    finally:
        context.close()
