"""The web console in a real browser: Debian's Chromium driven by Playwright.

Each role logs in with its token and sees its own pages (and a refusal for
the others'); two approvers approve a request in the console, which becomes a
grant, and oversight sees the entries appear; the operator starts a run and
watches it to completion. With ``LINKAGE_CONSOLE_SCREENSHOTS=DIR`` each page
is also saved as a PNG there (``docs/console/`` holds the README's).

Playwright is used with the system's Chromium only (``apt-get install
chromium``; never ``playwright install``, which downloads a browser).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.console.conftest import ConsoleWorld

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("LINKAGE_CONSOLE_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "the console's browser tests need Chromium: apt-get install chromium"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def _log_in(browser: Browser, console: ConsoleWorld, name: str) -> Page:
    """A fresh browser profile (its own cookies) logged in as ``name``."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{console.url}/console/login")
    page.get_by_label("Token").fill(console.token(name))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/console/login" not in page.url
    return page


def _shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _refused(page: Page, url: str) -> None:
    """The page answers 403 or 404, with the console's refusal page."""
    answer = page.goto(url)
    assert answer is not None and answer.status in (403, 404), (url, answer)
    expect(page.get_by_role("heading", name="Not shown")).to_be_visible()


def test_each_role_sees_its_own_pages_only(
    browser: Browser, console_world: ConsoleWorld
) -> None:
    """Log in as each role: its start page and navigation, and a refusal on
    another role's page."""
    base = f"{console_world.url}/console/projects/{console_world.project}"

    operator = _log_in(browser, console_world, "operator")
    expect(operator.get_by_role("heading", name="Projects")).to_be_visible()
    _shot(operator, "operator-projects")
    operator.get_by_role("link", name="reveal-test").click()
    expect(operator.get_by_role("heading", name="Parties and what each uploaded"))
    expect(operator.get_by_role("row", name=re.compile("police"))).to_be_visible()
    _shot(operator, "operator-project")
    _refused(operator, f"{base}/results")

    police = _log_in(browser, console_world, "police")
    expect(
        police.get_by_role("heading", name=re.compile("police in project"))
    ).to_be_visible()
    expect(
        police.get_by_role("link", name=re.compile("Download your results"))
    ).to_be_visible()
    assert "health" not in police.content()
    _shot(police, "agency")
    _refused(police, f"{base}/audit")
    _refused(
        police, f"{console_world.url}/console/projects/{console_world.runs_project}"
    )

    alice = _log_in(browser, console_world, "alice")
    expect(alice.get_by_role("heading", name="Your reveal requests")).to_be_visible()
    _refused(alice, base)

    olga = _log_in(browser, console_world, "olga")
    expect(olga.get_by_role("heading", name=re.compile("Audit trail"))).to_be_visible()
    expect(olga.get_by_role("status")).to_contain_text("Log verified")
    _refused(olga, f"{base}/reveals")
    olga.goto(f"{base}/audit/report")
    expect(
        olga.get_by_role("heading", name=re.compile("Transparency report"))
    ).to_be_visible()
    _shot(olga, "oversight-report")

    bob = _log_in(browser, console_world, "bob")
    expect(bob.get_by_role("heading", name="Reveal requests to decide")).to_be_visible()
    _refused(bob, f"{base}/audit")
    _refused(bob, f"{base}/runs/1")


def test_an_approval_in_the_browser_becomes_a_grant_oversight_sees(
    browser: Browser, console_world: ConsoleWorld, tmp_path: Path
) -> None:
    """alice asks; bob and carol each download the statements, sign them
    with `linkage reveal sign` (their keys stay on their machines) and paste
    the file; the request is approved and health's grant issued; oversight
    sees the entries appear; alice sees where her request stands."""
    world = console_world.world
    request_id = world.request(purpose="safeguarding check")
    olga = _log_in(browser, console_world, "olga")
    audit = f"{console_world.url}/console/projects/{console_world.project}/audit"
    olga.goto(f"{audit}?action=reveal.")
    before = olga.get_by_role("cell", name="reveal.granted", exact=True).count()
    for approver in ("bob", "carol"):
        page = _log_in(browser, console_world, approver)
        page.get_by_role("link", name=f"Request {request_id}", exact=True).click()
        expect(page.get_by_role("heading", name="What you sign")).to_be_visible()
        if approver == "bob":
            _shot(page, "approver-request")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the statements to sign").click()
        statements = tmp_path / f"{approver}-statements.json"
        download.value.save_as(statements)
        signed = tmp_path / f"{approver}-approval.json"
        world.local(
            "reveal", "sign", statements, "--reason", "purpose and basis checked",
            "--key", world.path(f"{approver}-signing.key"), "--out", signed,
        )  # fmt: skip
        page.get_by_label(re.compile("Signed approval")).fill(signed.read_text())
        page.get_by_role("button", name="Approve with this signature").click()
        page.wait_for_load_state()
        expect(page.get_by_role("listitem").filter(has_text=f"{approver} approved"))
    expect(page.get_by_role("heading", name=re.compile("approved"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("health issued"))).to_be_visible()
    _shot(page, "approver-approved")

    olga.reload()
    granted = olga.get_by_role("cell", name="reveal.granted", exact=True)
    expect(granted).to_have_count(before + 1)
    expect(
        olga.get_by_role("cell", name="reveal.approved", exact=True).first
    ).to_be_visible()
    _shot(olga, "oversight-audit")

    alice = _log_in(browser, console_world, "alice")
    alice.get_by_role("link", name=f"Request {request_id}", exact=True).click()
    expect(alice.get_by_role("heading", name="Opening the answers")).to_be_visible()
    expect(alice.get_by_text("linkage reveal open")).to_be_visible()
    _shot(alice, "investigator-request")


def test_the_operator_watches_a_run_to_completion(
    browser: Browser, console_world: ConsoleWorld
) -> None:
    """The operator starts a run; the page follows its progress by itself and
    shows the threshold, its histogram and the figures when it completes."""
    operator = _log_in(browser, console_world, "operator")
    operator.goto(f"{console_world.url}/console/projects/{console_world.runs_project}")
    operator.get_by_role("button", name="Start a run").click()
    operator.wait_for_load_state()
    expect(
        operator.get_by_role("heading", name=re.compile(r"Run \d+ of"))
    ).to_be_visible()
    first = operator.locator("[data-state]").get_attribute("data-state")
    assert first in ("queued", "running", "completed")
    # No reload from here: the page's script follows the run.
    expect(
        operator.get_by_role("heading", name=re.compile("^Threshold"))
    ).to_be_visible(timeout=120_000)
    expect(operator.locator("#run-state")).to_have_text("completed")
    expect(operator.locator("figure svg").first).to_be_visible()
    _shot(operator, "operator-run")


def test_the_operator_reads_the_probabilistic_model(
    browser: Browser, console_world: ConsoleWorld
) -> None:
    """A probabilistic run's page: the m and u table, the match-weight
    histogram and the waterfalls, each chart with its title."""
    project, run_id = console_world.model_run()
    operator = _log_in(browser, console_world, "operator")
    operator.goto(f"{console_world.url}/console/projects/{project}/runs/{run_id}")
    expect(
        operator.get_by_role("heading", name="The probabilistic model")
    ).to_be_visible()
    table = operator.get_by_role("table", name=re.compile("m and u of each field"))
    expect(table).to_be_visible()
    expect(
        operator.get_by_role("img", name=re.compile("Waterfall of pair")).first
    ).to_be_visible()
    _shot(operator, "operator-model")


def test_keyboard_labels_and_contrast(
    browser: Browser, console_world: ConsoleWorld
) -> None:
    """The first Tab reaches the skip link; every field has a label; text and
    buttons meet WCAG AA contrast (4.5:1)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{console_world.url}/console/login")
    _shot(page, "login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Token")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Log in")).to_be_focused()
    olga = _log_in(browser, console_world, "olga")
    for field in olga.locator("input:not([type=hidden]), select, textarea").all():
        field_id = field.get_attribute("id")
        assert field_id and olga.locator(f"label[for={field_id}]").count() == 1
    for selector in ("body", "button", "th", "a"):
        foreground, background = olga.locator(selector).first.evaluate(_COLOURS)
        assert _contrast(foreground, background) >= 4.5, (
            selector,
            foreground,
            background,
        )
    context.close()


# An element's text colour and the first opaque background behind it.
_COLOURS = """e => {
    const colour = getComputedStyle(e).color;
    let node = e, background = "rgba(0, 0, 0, 0)";
    while (node && background === "rgba(0, 0, 0, 0)") {
        background = getComputedStyle(node).backgroundColor;
        node = node.parentElement;
    }
    const white = "rgb(255, 255, 255)";
    return [colour, background === "rgba(0, 0, 0, 0)" ? white : background];
}"""


def _contrast(first: str, second: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(v) / 255 for v in re.findall(r"\d+", colour)[:3]]
        linear = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in channels
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
