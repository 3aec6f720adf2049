"""The page in a real headless Chromium (Debian's /usr/bin/chromium, driven by selenium; no browser is
downloaded): upload samples/squats.mp4, read the count off the page, ask a question, record from the
webcam (Chromium's synthetic camera), upload a file that is not a video, and save screenshots
(outputs/app_browser/).

Slow (a real video is decoded and pose-estimated), so out of the default run:
    bash scripts/test.sh -m browser
Chromium and ChromeDriver: apt-get install -y chromium chromium-driver.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from tests.app_server import require_gradio_client, running_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "squats.mp4"  # ground truth 6 (samples/squats.txt)
SHOTS = ROOT / "outputs" / "app_browser"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# What Chromium needs here: no sandbox as root, and no background calls to Google's hosts.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1800",
         # A camera for the webcam test: Chromium's own synthetic one, allowed without a prompt.
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed; bash scripts/setup.sh installs it (the test extra)", pytrace=False)
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian's Chromium is missing: apt-get install -y chromium chromium-driver", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)  # the given driver: no lookup
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    require_gradio_client()
    with running_app(tmp_path_factory.mktemp("app_browser")) as url:
        yield url


def _text(driver, elem_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, elem_id).text


def _upload(driver, url: str, path: Path) -> None:
    """A fresh page, then the file given to the video component's file input."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#video input[type=file]"))
    driver.find_element(By.CSS_SELECTOR, "#video input[type=file]").send_keys(str(path))


def _wait_for(driver, elem_id: str, predicate, timeout_s: float = 300.0) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout_s, poll_frequency=0.5).until(lambda d: predicate(_text(d, elem_id)))
    return _text(driver, elem_id)


def _shot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    assert driver.save_screenshot(str(path)), path
    assert path.stat().st_size > 20_000
    return path


def test_upload_the_sample_read_the_count_and_ask(browser, app_url):
    from selenium.webdriver.common.by import By

    _upload(browser, app_url, SAMPLE)
    summary = _wait_for(browser, "count-summary", lambda text: "repetition" in text or "Cannot use" in text)
    found = re.match(r"(\d+) repetitions?\b", summary)
    assert found, summary
    assert int(found.group(1)) == 6, summary  # the sample's ground truth
    assert "squats.mp4" in summary and "Traceback" not in browser.page_source
    sets = _wait_for(browser, "sets", lambda text: "Rests" in text, 60)
    assert "Sets" in sets
    _wait_for(browser, "count-download", lambda text: ".json" in text, 60)
    link = browser.find_element(By.CSS_SELECTOR, "#count-download a[data-testid=download-link]").get_attribute("href")
    assert link.endswith("squats.count.json"), link
    with urllib.request.urlopen(link, timeout=30) as response:  # the JSON the page offers to download
        assert json.load(response)["count"] == 6
    _shot(browser, "count.png")

    browser.find_element(By.CSS_SELECTOR, "#question textarea").send_keys("How many squats after 0:10?")
    browser.find_element(By.ID, "ask-button").click()
    answer = _wait_for(browser, "answer", lambda text: bool(text.strip()), 120)
    assert "after 0:10" in answer and "Traceback" not in answer, answer
    _shot(browser, "answer.png")

    # Nothing the page loaded came from anywhere but the app itself (no fonts, scripts or analytics from afar).
    sources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert sources and all(s.startswith(app_url.rstrip("/")) or s.startswith(("data:", "blob:")) for s in sources), [
        s for s in sources if not s.startswith(app_url.rstrip("/"))]


def test_a_file_that_is_not_a_video_is_a_message_on_the_page(browser, app_url, tmp_path):
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"these bytes are not a video")
    _upload(browser, app_url, fake)
    message = _wait_for(browser, "count-summary", lambda text: bool(text.strip()), 120)
    assert message.startswith("⚠️ Cannot use this upload: holiday.mp4") and "cannot be decoded as a video" in message
    assert "Traceback" not in browser.page_source
    _shot(browser, "bad_upload.png")


def test_a_webcam_recording_is_counted(browser, app_url):
    """Record 4 s from the (synthetic) camera: the WebM MediaRecorder writes is re-encoded and counted."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def button(xpath: str):
        return WebDriverWait(browser, 60).until(lambda d: d.find_element(By.XPATH, xpath))

    browser.get(app_url)
    button("//*[@id='video']//button[@aria-label='Capture from camera']").click()
    button("//*[@id='video']//button[contains(., 'Click to Access Webcam')]").click()
    button("//*[@id='video']//button[@aria-label='start recording']").click()
    time.sleep(4)
    button("//*[@id='video']//button[contains(., 'Stop')]").click()
    summary = _wait_for(browser, "count-summary", lambda text: bool(text.strip()), 300)
    assert re.match(r"\d+ repetitions?\b", summary), summary  # whatever the test pattern repeats: an answer
    assert ".webm could not be indexed as it was" in summary and "re-encoded with PyAV" in summary
    _shot(browser, "webcam.png")


def test_chromium_is_the_systems(browser):
    assert browser.capabilities["browserName"] in ("chrome", "chromium")
    assert shutil.which("chromium") == str(CHROMIUM) or CHROMIUM.exists()
