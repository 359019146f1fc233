"""The web UI in Chromium, as a new user meets it after `retrain up`.

RETRAIN_URL names the server, RETRAIN_ADMIN_PASSWORD the first admin's
password, SCREENSHOTS the directory each page's screenshot goes to,
CHROMIUM the browser. The tests run in file order and share one browser
session: they follow one user through the loop.
"""

import os
import pathlib
import re
import time

import pytest
from playwright.sync_api import expect, sync_playwright

URL = os.environ["RETRAIN_URL"]
PASSWORD = os.environ["RETRAIN_ADMIN_PASSWORD"]
SHOTS = pathlib.Path(os.environ["SCREENSHOTS"])
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def page():
    with sync_playwright() as p:
        # Each context is a fresh profile, as --user-data-dir of a new
        # directory would give.
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=FLAGS)
        page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        page.browser = browser
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        yield page
        browser.close()
        assert not page.console_errors, f"the browser's console reported errors: {page.console_errors}"


def shot(page, name):
    # From the top, so the sticky header is drawn where it belongs.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_anonymous_visit_lands_on_the_sign_in_page(page):
    page.goto(URL + "/")
    expect(page).to_have_url(URL + "/login")
    shot(page, "01-login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not the password")
    page.click("button.primary")
    expect(page.locator(".problem")).to_contain_text("Wrong user name or password")
    # The refused sign-in answers 401, which the console reports.
    page.console_errors.clear()


def test_the_admin_signs_in_and_sees_the_overview(page):
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(URL + "/")
    expect(page.locator("header.top .me")).to_contain_text("admin")
    expect(page.locator("main")).to_contain_text("retrain_iris")
    shot(page, "02-overview")


def test_the_overview_reads_on_a_phone_in_dark_mode(page):
    phone = page.browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    phone.add_cookies(page.context.cookies())
    small = phone.new_page()
    small.goto(URL + "/")
    expect(small.locator("h1")).to_have_text("Overview")
    background = small.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(247, 248, 250)", "the dark scheme applies"
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"nothing wider than the phone's screen: {width}px"
    shot(small, "03-overview-phone-dark")
    phone.close()


def wait_for_green_run(page, timeout_s=240):
    """Reload the pipeline's grid until its newest run ends; the run must succeed."""
    deadline = time.time() + timeout_s
    newest = page.locator("table.grid thead th.cell a.sq").last
    while True:
        page.goto(URL + "/pipelines/retrain_iris")
        state = newest.get_attribute("class") or ""
        if "state-success" in state or "state-failed" in state:
            break
        assert time.time() < deadline, f"the run did not end in {timeout_s}s: {state}"
        time.sleep(1)
    assert "state-success" in state, f"the run failed: {newest.get_attribute('title')}"


def trigger_retrain_iris(page):
    page.goto(URL + "/pipelines/retrain_iris")
    form = page.locator("form.trigger")
    expect(form.locator("input[name='param.model_name']")).to_have_value("iris-rf")
    form.locator("button.primary").click()
    expect(page).to_have_url(re.compile(r"/pipelines/retrain_iris/runs/manual__"))
    return page.url


def test_trigger_retrain_iris_and_watch_its_grid_turn_green(page):
    trigger_retrain_iris(page)
    expect(page.locator("h1")).to_contain_text("manual__")
    shot(page, "04-pipeline-run-started")
    wait_for_green_run(page)
    cells = page.locator("table.grid tbody tr")
    expect(cells).to_have_count(7)
    for task in ["split", "train", "evaluate", "register", "quality_gate", "deploy"]:
        square = page.locator("table.grid tbody tr", has_text=task).locator("a.sq").last
        expect(square).to_have_class(re.compile("state-success"))
    expect(page.locator("figure.chart figcaption", has_text="Run durations")).to_be_visible()
    expect(page.locator(".graph-wrap g.node.state-success")).to_have_count(7)
    shot(page, "05-pipeline-grid")
    page.goto(URL + "/pipelines")
    expect(page.locator("main")).to_contain_text("retrain_iris")
    shot(page, "06-pipelines")


def test_the_train_task_shows_its_tries_and_log(page):
    page.goto(URL + "/pipelines/retrain_iris")
    page.locator("table.grid tbody tr", has_text="train").first.locator("a.sq").last.click()
    expect(page.locator("h1")).to_contain_text("train")
    expect(page.locator("h1")).to_contain_text("success")
    log = page.locator("pre.log")
    expect(log).to_be_visible()
    assert log.locator("span[id^=L]").count() > 0, "the log has lines"
    expect(page.locator("a", has_text="Download")).to_have_attribute("href", re.compile(r"/log\?try=1$"))
    shot(page, "07-task-log")
    # A line's anchor is a deep link to it.
    page.locator("pre.log a.line").first.click()
    expect(page).to_have_url(re.compile(r"#L1$"))


def test_the_trained_models_run_shows_its_metric_charts(page):
    page.goto(URL + "/models")
    page.locator("a", has_text="iris-rf").first.click()
    expect(page.locator("h1")).to_have_text("iris-rf")
    page.locator("#versions + .table-wrap a", has_text="run").first.click()
    expect(page).to_have_url(re.compile(r"/experiments/[^/]+/runs/[^/?#]+"))
    charts = page.locator("#charts svg[data-chart]")
    assert charts.count() > 0, "the run has metric charts"
    chart = charts.first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    expect(page.locator(".chart-tip").first).to_be_visible()
    shot(page, "08-run")
    # The log scale toggle is in the address, so it is a deep link.
    page.locator("a", has_text="log scale").first.click()
    expect(page).to_have_url(re.compile(r"[?&]log=1"))
    page.goto(page.url.split("?")[0].split("#")[0].rsplit("/runs/", 1)[0])
    expect(page.locator("table")).to_be_visible()
    shot(page, "09-runs-table")


def test_a_version_is_promoted_with_a_reason_and_the_audit_trail_says_so(page):
    # A second run registers version 2, which its deploy step makes champion.
    trigger_retrain_iris(page)
    wait_for_green_run(page)
    page.goto(URL + "/models/iris-rf/versions/1")
    page.locator("form", has_text="Promote to champion").locator("button").click()
    expect(page.locator("h1")).to_contain_text("version 1")
    # Without a reason the browser keeps the form: the field is required.
    page.locator("button.primary", has_text="Confirm").click()
    expect(page.locator("textarea#reason")).to_be_visible()
    assert page.locator("textarea#reason").evaluate("t => !t.checkValidity()")
    page.fill("textarea#reason", "rolling back: version 2 scored lower on the holdout")
    shot(page, "10-promote-confirm")
    page.locator("button.primary", has_text="Confirm").click()
    expect(page).to_have_url(re.compile(r"/models/iris-rf#audit$"))
    events = page.locator("ol.events")
    expect(events).to_contain_text("rolling back: version 2 scored lower on the holdout")
    expect(events).to_contain_text("admin")
    champion = page.locator(".card p:has(.badge.champion) a")
    expect(champion).to_have_text("version 1")
    shot(page, "11-model")
    page.goto(URL + "/")
    expect(page.locator("main")).to_contain_text("rolling back")
    shot(page, "12-overview-after")
