"""The web UI in Chromium, as a new user meets it after `retrain up`.

RETRAIN_URL names the server, RETRAIN_ADMIN_PASSWORD the first admin's
password, SCREENSHOTS the directory each page's screenshot goes to,
CHROMIUM the browser. The tests run in file order and share one browser
session: they follow one user through the loop.
"""

import os
import pathlib

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
