"""The web UI in a real browser (Debian's chromium) against ``gnomon standalone``: log in,
trigger with a param, watch the grid, read a try's log, clear, log out.

``GNOMON_SCREENSHOTS=1`` also saves screenshots of the main pages to ``docs/img/``.
"""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from support.processes import wait_for
from support.standalone import STANDALONE, Standalone

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "img"
GREETING = "hello from the ui test"

DAG = f"""
from datetime import datetime
from gnomon import DAG, Param
from gnomon.operators import BashOperator

with DAG(
    "ui_greeting",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    tags=["ui", "example"],
    description="Says hello to whoever the trigger names",
    params={{"name": Param("world", type="string", description="who to greet")}},
):
    greet = BashOperator(
        task_id="greet", bash_command="echo '{GREETING}, {{{{ params.name }}}}'"
    )
    done = BashOperator(task_id="done", bash_command="echo done")
    greet >> done
"""

#: Its first task waits for a file named ``gate`` beside the DAGs folder, so that a test
#: can look at the second before it starts.
GATED_DAG = """
from datetime import datetime
from pathlib import Path
from gnomon import DAG
from gnomon.operators import BashOperator

GATE = Path(__file__).resolve().parent.parent / "gate"

with DAG("ui_gated", schedule=None, start_date=datetime(2026, 1, 1)):
    wait = BashOperator(
        task_id="wait", bash_command=f"while [ ! -e '{GATE}' ]; do sleep 0.05; done"
    )
    after = BashOperator(task_id="after", bash_command="echo after the gate")
    wait >> after
"""

pytestmark = pytest.mark.slow


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A standalone on a small DAGs folder: its address and the admin's password. Its log
    is in the report of a test that fails."""
    _require_chromium()
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "ui_greeting.py").write_text(DAG)
    (dags / "ui_gated.py").write_text(GATED_DAG)
    runner = Standalone(tmp_path, f"sqlite:///{tmp_path / 'gnomon.db'}", dags)
    runner.start()
    request.node.stash[STANDALONE] = runner
    base = f"http://127.0.0.1:{runner.port}"
    password_file = tmp_path / "home" / "standalone_admin_password.txt"

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                return response.status == 200 and password_file.exists()
        except OSError:
            return False

    try:
        wait_for(up, timeout=60)
        yield base, password_file.read_text().strip()
    finally:
        runner.stop_all()


@pytest.fixture
def page(server: tuple[str, str]) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 860})
        context.set_default_timeout(30_000)
        expect.set_options(timeout=30_000)
        try:
            new = context.new_page()
            new.on("console", lambda m: print("CONSOLE", m.type, m.text))
            new.on("pageerror", lambda e: print("PAGEERROR", e))
            yield new
        finally:
            context.close()
            browser.close()


def _shot(page: Page, name: str) -> None:
    if os.environ.get("GNOMON_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _log_in(page: Page, base: str, password: str) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    _shot(page, "login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_a_user_triggers_watches_reads_the_log_clears_and_logs_out(
    server: tuple[str, str], page: Page
) -> None:
    base, password = server
    _log_in(page, base, password)

    # The DAG list, once the DAG processor has parsed the folder.
    expect(page.locator("tr[data-dag-id=ui_greeting]")).to_be_visible(timeout=60_000)
    page.locator("tr[data-dag-id=ui_greeting]").get_by_role("link", name="Trigger").click()
    expect(page).to_have_url(re.compile(r"/dags/ui_greeting/trigger$"))

    expect(page.locator("#param-name")).to_have_value("world")
    page.fill("#param-name", "gnome")
    _shot(page, "trigger")
    page.click("#trigger-submit")

    expect(page).to_have_url(re.compile(r"/dags/ui_greeting(\?.*)?$"))
    cells = page.locator("tr[data-task-id] td.cell")
    expect(cells).to_have_count(2)
    for task_id in ("greet", "done"):
        cell = page.locator(f"tr[data-task-id={task_id}] td.cell").last
        expect(cell).to_have_class(re.compile(r"\bs-success\b"), timeout=60_000)
    _shot(page, "grid")
    page.click("[data-tab=graph]")
    expect(page.locator("svg.graph g.node.s-success")).to_have_count(2)
    _shot(page, "graph")
    page.click("[data-tab=gantt]")
    expect(page.locator("svg.gantt rect.bar")).to_have_count(2)
    _shot(page, "gantt")
    page.click("[data-tab=grid]")

    # The try page of greet: the log has the line the task printed.
    page.locator("tr[data-task-id=greet] td.cell").last.click()
    expect(page).to_have_url(re.compile(r"/runs/.+/tasks/greet\?map_index=-1&try=1"))
    expect(page.locator("#log")).to_contain_text(f"{GREETING}, gnome")
    expect(page.locator("#ti-state")).to_have_text("success")
    _shot(page, "try")

    # Clear it: the dialog lists it; it runs again as try 2 and succeeds.
    page.click("#clear")
    expect(page.locator("#confirm-list")).to_contain_text("greet")
    page.click("#confirm-ok")
    expect(page.locator("#tries a", has_text="Try 2")).to_be_visible(timeout=60_000)
    expect(page.locator("#ti-state")).to_have_text("success", timeout=60_000)
    expect(page.locator("#log")).to_contain_text(f"{GREETING}, gnome")

    # The DAG list, with the run's dot, for the screenshot.
    page.goto(f"{base}/")
    expect(page.locator("tr[data-dag-id=ui_greeting] .dot.s-success")).to_have_count(1)
    _shot(page, "dags")

    # Log out: back to the login form, and the old cookie no longer opens the API.
    old = next(c for c in page.context.cookies() if c["name"] == "gnomon_session")
    page.click("header button:has-text('Log out')")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.context.add_cookies([{"name": old["name"], "value": old["value"], "url": base}])
    response = page.request.get(f"{base}/api/v1/dags")
    assert response.status == 401


def test_a_task_page_opened_before_the_task_starts_follows_it_to_the_end(
    server: tuple[str, str], page: Page, tmp_path: Path
) -> None:
    base, password = server
    _log_in(page, base, password)
    expect(page.locator("tr[data-dag-id=ui_gated]")).to_be_visible(timeout=60_000)
    page.goto(f"{base}/dags/ui_gated/trigger")
    page.click("#trigger-submit")
    expect(page).to_have_url(re.compile(r"/dags/ui_gated(\?.*)?$"))
    wait_cell = page.locator("tr[data-task-id=wait] td.cell").last
    expect(wait_cell).to_have_class(re.compile(r"\bs-running\b"), timeout=60_000)

    # Its upstream is running: the instance has no try yet, and the page says so...
    page.locator("tr[data-task-id=after] td.cell").last.click()
    expect(page).to_have_url(re.compile(r"/runs/.+/tasks/after\?map_index=-1"))
    expect(page.locator("#ti-state")).to_have_text("none")
    # ...and keeps looking: once the gate opens, the page shows its try and its end.
    (tmp_path / "gate").touch()
    expect(page.locator("#tries a", has_text="Try 1")).to_be_visible(timeout=60_000)
    expect(page.locator("#ti-state")).to_have_text("success", timeout=60_000)
    expect(page.locator("#log")).to_contain_text("after the gate")
