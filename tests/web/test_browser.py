"""Acceptance in a real browser: Debian's headless Chromium (chromium + chromium-driver, driven by
Selenium; no browser is downloaded) opens the public page of a freshly issued document on the
real server at a phone's 390×844, in kk, ru and en, reads the status, the masked IIN and the
signer, uploads the issued PDF (a match, with its version) and a copy changed by one byte (no
match), and after the document is annulled finds the reason and the date. Full-page screenshots
are kept in tests/artifacts/web/ (ignored by git) for a person to look at."""
from __future__ import annotations

import base64
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException,
                                        WebDriverException)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from qujat.service import Caller, annul
from qujat.web.facts import format_moment
from qujat.web.i18n import text
from tests.conftest import ROOT
from tests.web.conftest import CITIZEN_IIN, CITIZEN_IIN_MASKED, CITIZEN_NAME_MASKED, issue_example

ARTIFACTS = ROOT / "tests" / "artifacts" / "web"
WIDTH, HEIGHT = 390, 844
SIGNER = "Жандосов Айдар Серікұлы"
SWITCH = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver_path, "Debian's chromium and chromium-driver are not installed: run make deps"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", "--lang=en-US", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(arg)
    options.add_experimental_option("mobileEmulation", {
        "deviceMetrics": {"width": WIDTH, "height": HEIGHT, "pixelRatio": 2},
        "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/126.0 Mobile Safari/537.36"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    """The whole page, as a phone would scroll through it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}})
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def fits_the_phone(driver) -> None:
    assert driver.execute_script("return window.innerWidth") == WIDTH
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"


def body_text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def wait_for(driver, condition) -> None:
    """Until ``condition(driver)`` holds on the page that is loading (30 s). While the old page is
    replaced, an element found on it may vanish under the read: Chromium then answers "stale
    element" or, for the same race, the generic "Node with given id does not belong to the
    document"; both mean "not yet" and are tried again (a real failure still times out)."""

    def holds(d) -> bool:
        try:
            return condition(d)
        except WebDriverException as exc:
            if isinstance(exc, (NoSuchElementException, StaleElementReferenceException)) or \
                    "does not belong to the document" in str(exc):
                return False
            raise

    WebDriverWait(driver, 30).until(holds)


def upload(driver, lang: str, path: Path) -> tuple[str, str]:
    """Choose ``path`` in the compare form and send it: the result's headline and details."""
    driver.find_element(By.ID, "file").send_keys(str(path))
    driver.find_element(By.CSS_SELECTOR, "form[enctype] button[type=submit]").click()
    wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text == text("result_heading", lang))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    details = " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".status .detail"))
    return driver.find_element(By.CSS_SELECTOR, ".status .status-text").text, details


def test_a_phone_checks_a_document_in_three_languages(site, browser, tmp_path):
    doc = issue_example(site.runtime, "land_right_act", "kk+ru")
    issued, changed = tmp_path / "act.pdf", tmp_path / "act-changed.pdf"
    issued.write_bytes(doc.pdf)
    changed.write_bytes(doc.pdf.replace(b"/Type", b"/Typf", 1))
    assert changed.read_bytes() != doc.pdf
    page = f"{site.url}/v/{doc.token}"
    shots = []

    browser.get(page)                                   # the QR's URL: the browser speaks English
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    for lang in ("kk", "ru", "en"):
        browser.get(page)
        browser.find_element(By.LINK_TEXT, SWITCH[lang]).click()       # the language switch
        wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang)
        fits_the_phone(browser)
        assert browser.find_element(By.CSS_SELECTOR, ".status .status-text").text == text("status.valid", lang)
        body = body_text(browser)
        assert CITIZEN_IIN_MASKED in body and CITIZEN_NAME_MASKED in body
        assert CITIZEN_IIN not in browser.page_source
        assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".signer-name")] == [SIGNER]
        assert text("check.passed", lang) in body
        shots.append(screenshot(browser, f"{lang}-page"))

        assert upload(browser, lang, issued) == (text("match.title", lang), text("match.current", lang, n=1))
        fits_the_phone(browser)
        shots.append(screenshot(browser, f"{lang}-match"))
        browser.find_element(By.LINK_TEXT, text("back", lang)).click()
        wait_for(browser, lambda d: d.find_element(By.ID, "file"))
        headline, details = upload(browser, lang, changed)
        assert headline == text("no_match.title", lang) and details.startswith(text("no_match", lang))
        shots.append(screenshot(browser, f"{lang}-no-match"))

    reason = "Қарасай ауданы әкімдігінің 2026 жылғы 25 қарашадағы № 1290 қаулысымен / Постановлением акимата № 1290"
    record = annul(site.runtime, doc.record.id, reason, Caller("web-tests", "web-tests"))
    for lang in ("kk", "ru", "en"):
        browser.get(f"{page}?lang={lang}")
        assert browser.find_element(By.CSS_SELECTOR, ".status .status-text").text == text("status.annulled", lang)
        body = body_text(browser)
        assert reason in body
        assert format_moment(record.annulled_at, lang, ZoneInfo(site.runtime.settings.timezone)) in body
        fits_the_phone(browser)
        shots.append(screenshot(browser, f"{lang}-annulled"))
    for path in shots:
        assert path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print("screenshots:", *(str(p.relative_to(ROOT)) for p in shots))
