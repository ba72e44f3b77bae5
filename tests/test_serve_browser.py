"""The search page in headless chromium (Selenium): upload a .pose, see its gloss first;
upload a corrupt file, see the server's message; on a video dictionary, upload an mp4 and
see its gloss first.  Skipped when chromium, chromedriver or
selenium is missing.  ``SIGNSSL_SERVE_SCREENSHOT=docs/serve.png`` also saves the page."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_toys import ToyDictionary, build_toy_dictionary, build_video_dictionary, serve

pytestmark = pytest.mark.browser
webdriver = pytest.importorskip("selenium.webdriver")
pytest.importorskip("uvicorn")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("chromium and chromedriver are not installed (apt-get install chromium "
                "chromium-driver)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ToyDictionary]]:
    yield from serve(build_toy_dictionary(tmp_path_factory.mktemp("browser")))


@pytest.fixture(scope="module")
def edit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ToyDictionary]]:
    toy = build_toy_dictionary(tmp_path_factory.mktemp("browser-edits"))
    yield from serve(toy, allow_edits=True)


@pytest.fixture(scope="module")
def video_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ToyDictionary]]:
    yield from serve(build_video_dictionary(tmp_path_factory.mktemp("browser-video")))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,1000"):
        opts.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    except Exception as e:  # a chromium that cannot start here
        pytest.skip(f"headless chromium does not start: {type(e).__name__}: {e}".splitlines()[0])
    yield driver
    driver.quit()


def _search(driver, path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "file").send_keys(str(path))
    driver.find_element(By.ID, "search").click()


def _wait(driver, condition, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _glosses_found(driver, url: str, query: Path) -> list[str]:
    """Open the page at ``url``, search with ``query``, and read the glosses listed."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    _wait(driver, lambda d: "entries" in d.find_element(By.ID, "about").text)
    _search(driver, query)
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results li .gloss"))
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#results li .gloss")]


def test_page_finds_the_gloss_and_shows_the_error(server, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    url, toy = server
    glosses = _glosses_found(browser, url, toy.queries["sign001"])
    assert glosses[0] == "sign001" and len(glosses) == 3
    assert browser.find_elements(By.CSS_SELECTOR, "#results li svg line")  # skeletons drawn
    assert browser.find_elements(By.CSS_SELECTOR, "#query-strip svg")
    shot = os.environ.get("SIGNSSL_SERVE_SCREENSHOT")
    if shot:
        browser.save_screenshot(shot)

    bad = tmp_path / "broken.pose"
    bad.write_bytes(toy.queries["sign000"].read_bytes()[:200])
    _search(browser, bad)
    status = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#status.error"))
    assert "is not a readable .pose file" in status.text
    assert browser.find_elements(By.CSS_SELECTOR, "#results li") == []


def test_page_finds_the_gloss_of_an_uploaded_video(video_server, browser) -> None:
    url, videos = video_server
    glosses = _glosses_found(browser, url, videos.queries["sign002"])
    assert glosses[0] == "sign002" and len(glosses) == 3


def test_page_adds_and_removes_an_entry(edit_server, browser) -> None:
    """With --allow-edits: add the query's own file under a new gloss (it is then found
    first), list the entries, remove it (the old gloss is first again)."""
    from selenium.webdriver.common.by import By

    url, toy = edit_server
    query = toy.queries["sign001"]
    assert _glosses_found(browser, url, query)[0] == "sign001"
    _wait(browser, lambda d: d.find_element(By.ID, "edits").is_displayed())
    browser.find_element(By.ID, "add-file").send_keys(str(query))
    browser.find_element(By.ID, "add-gloss").send_keys("newgloss")
    browser.find_element(By.CSS_SELECTOR, "#add-form button[type=submit]").click()
    row = "#entries button[aria-label^='Remove newgloss']"  # the list is shown after an add
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row))
    assert _glosses_found(browser, url, query)[0] == "newgloss"
    browser.find_element(By.ID, "refresh").click()
    remove = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row))
    remove[0].click()
    _wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, row))
    assert _glosses_found(browser, url, query)[0] == "sign001"
