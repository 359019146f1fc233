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
def page(tmp_path_factory):
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")),
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=FLAGS,
            viewport={"width": 1280, "height": 860},
        )
        page = browser.new_page()
        errors = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        yield page
        browser.close()
        assert not errors, f"the browser's console reported errors: {errors}"


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


def test_the_admin_signs_in_and_sees_the_overview(page):
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(URL + "/")
    expect(page.locator("header.top .me")).to_contain_text("admin")
    expect(page.locator("main")).to_contain_text("retrain_iris")
    shot(page, "02-overview")
