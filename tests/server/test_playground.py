"""The playground (``cognix serve --playground``) in a real browser, against a real server on loopback.

The browser is Debian's headless ``chromium`` driven through Debian's ``chromium-driver`` by selenium.
The two apt packages come from one source package, so browser and driver always match, and pointing
selenium at ``/usr/bin/chromedriver`` means nothing is downloaded at test time (Selenium Manager never
runs), which an offline CI needs. Playwright was the alternative: it is built against its own pinned
browser builds, which it downloads, and drives a system chromium of another version only as an
unsupported fallback; WebDriver is the W3C protocol chromedriver implements for every chromium Debian ships.

The browser tests skip, saying why, only when chromium or chromedriver is missing (``.ci/run`` installs
both). Their screenshots go to ``$CI_ARTIFACTS``, by default ``.ci/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from cognix.server import create_app, settings_from_env
from tests.conftest import EXAMPLES, REPO
from tests.server_helpers import MODELS, serve

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("CI_ARTIFACTS") or REPO / ".ci" / "artifacts")
TERMINAL = {"succeeded", "failed", "canceled", "error"}  # error: the server refused the request (the page's own)
BLUR_INPUT = EXAMPLES / "blur" / "input.png"
SAMPLE = 'return [document.getElementById("status").dataset.status, document.getElementById("output").textContent]'


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not found: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def wait(browser: webdriver.Chrome, condition: Callable[[webdriver.Chrome], Any], timeout: float = 60) -> Any:
    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(condition)


def field(browser: webdriver.Chrome, name: str) -> WebElement:
    return browser.find_element(By.ID, f"input-{name}")


def text(browser: webdriver.Chrome, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).get_property("textContent") or ""


def status(browser: webdriver.Chrome) -> str:
    return browser.find_element(By.ID, "status").get_dom_attribute("data-status") or ""


def run(browser: webdriver.Chrome) -> str:
    """Click Run and wait for the prediction to end; returns its status."""
    browser.find_element(By.ID, "run").click()
    return wait(browser, lambda b: (s := status(b)) in TERMINAL and b.find_element(By.ID, "run").is_enabled() and s)


def type_into(element: WebElement, value: str) -> None:
    element.clear()
    element.send_keys(value)


def open_playground(browser: webdriver.Chrome, url: str) -> None:
    browser.get(url + "/playground")  # redirected to /playground/
    wait(browser, lambda b: b.find_element(By.ID, "run").is_enabled())  # the form is built from the schema


def screenshot(browser: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / name))


def assert_no_script_errors(browser: webdriver.Chrome) -> None:
    errors = [e["message"] for e in browser.get_log("browser") if "Uncaught" in e["message"]]
    assert not errors, errors


async def get(app: Any, *names: str) -> list[httpx.Response]:
    """GET /playground/NAME from the app in this process (no lifespan: no model is started)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cognix") as client:
        return [await client.get(f"/playground/{name}") for name in names]


def test_the_page_is_served_only_when_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """COGNIX_PLAYGROUND=1 turns it on for the image's server; off, /playground/ is not there."""
    for value, served in (("1", True), ("", False)):
        monkeypatch.setenv("COGNIX_PLAYGROUND", value)
        settings = settings_from_env(project_dir=tmp_path, predict_ref="predict.py:Runner")
        assert settings.playground is served
        page, script, style = asyncio.run(get(create_app(settings), "", "playground.js", "playground.css"))
        assert page.status_code == (200 if served else 404)
        if served:
            assert 'src="playground.js"' in page.text and "<form" in page.text
            assert script.status_code == 200 and "javascript" in script.headers["content-type"]
            assert style.status_code == 200 and "text/css" in style.headers["content-type"]


def test_an_image_in_and_out_with_a_refusal_and_a_failure_shown(browser: webdriver.Chrome) -> None:
    with serve(EXAMPLES / "blur", "--playground") as server:
        open_playground(browser, server.url)
        radius = field(browser, "radius")
        assert [radius.get_attribute(a) for a in ("min", "max", "value")] == ["0", "100", "2"]
        assert field(browser, "image").get_attribute("accept") == "image/*"

        assert run(browser) == "error"  # no image: the server's 422, shown at its field
        assert text(browser, "input-image-error") == "Field required"
        assert "image: Field required" in text(browser, "error")

        field(browser, "image").send_keys(str(BLUR_INPUT))
        type_into(radius, "6")
        assert run(browser) == "succeeded", text(browser, "error")
        image = browser.find_element(By.CSS_SELECTOR, "#output img")
        assert (image.get_attribute("src") or "").startswith("data:image/png;base64,")
        loaded = "return arguments[0].complete && arguments[0].naturalWidth"
        width = wait(browser, lambda b: b.execute_script(loaded, image))  # the src decodes to an image
        with Image.open(BLUR_INPUT) as original:
            assert width == original.width
        assert browser.find_element(By.CSS_SELECTOR, "#output figcaption a").get_attribute("download") == "output.png"
        assert "predict_time" in text(browser, "metrics")
        screenshot(browser, "playground-blur.png")

        # a file that is no image, dropped onto the field: the prediction fails and says why
        browser.execute_script(
            """const zone = document.getElementById("input-image").closest(".drop");
            const data = new DataTransfer();
            data.items.add(new File(["not an image"], "notes.txt", {type: "text/plain"}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));"""
        )
        assert "notes.txt" in browser.find_element(By.CSS_SELECTOR, ".drop .preview").text
        assert run(browser) == "failed"
        assert "cannot identify image file" in text(browser, "error")
        assert not browser.find_elements(By.CSS_SELECTOR, "#output img")
        assert_no_script_errors(browser)


def test_a_stream_shows_each_chunk_as_it_comes_and_can_be_canceled(browser: webdriver.Chrome) -> None:
    with serve(MODELS / "stream", "--playground") as server:
        open_playground(browser, server.url)
        assert field(browser, "quiet").get_attribute("type") == "checkbox"
        type_into(field(browser, "n"), "6")
        type_into(field(browser, "delay"), "0.3")
        browser.find_element(By.ID, "run").click()
        seen: list[str] = []  # the output's text each time it changed while the prediction ran
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now, output = browser.execute_script(SAMPLE)
            if now in TERMINAL:
                break
            if now == "processing" and output and (not seen or seen[-1] != output):
                seen.append(output)
            time.sleep(0.05)
        final = "".join(f"t{i} " for i in range(6))
        assert status(browser) == "succeeded", text(browser, "error")
        assert text(browser, "output") == final
        assert len(seen) >= 3, seen  # chunks appeared one after another, not all at the end
        assert all(final.startswith(partial) for partial in seen) and seen[0] != final
        assert [len(s) for s in seen] == sorted({len(s) for s in seen})
        assert "token 0" in text(browser, "logs") and "token 5" in text(browser, "logs")
        assert "count6" in text(browser, "metrics")  # the model's own metric, incremented per token
        screenshot(browser, "playground-stream.png")

        type_into(field(browser, "n"), "100")
        type_into(field(browser, "delay"), "0.5")
        browser.find_element(By.ID, "run").click()
        wait(browser, lambda b: text(b, "output").startswith("t0"))
        browser.find_element(By.ID, "cancel").click()
        assert wait(browser, lambda b: (s := status(b)) in TERMINAL and s) == "canceled"
        assert_no_script_errors(browser)


def test_choices_json_and_an_object_output_with_a_file(browser: webdriver.Chrome) -> None:
    with serve(MODELS / "typed", "--playground") as server:
        open_playground(browser, server.url)
        mode = field(browser, "mode")  # choices: allOf [$ref] to the enum's schema
        choices = mode.find_elements(By.TAG_NAME, "option")
        assert mode.tag_name == "select" and [o.text for o in choices] == ["fast", "slow", "exact"]
        assert choices[0].is_selected()  # the default
        assert field(browser, "api_key").get_dom_attribute("type") == "password"
        assert field(browser, "attachments").get_dom_attribute("multiple") is not None
        assert field(browser, "tags").get_property("value") == '["a","b"]'  # a list: JSON, its default filled in

        type_into(field(browser, "options"), "{not json")
        assert run(browser) == "error"  # caught in the page, never sent
        assert text(browser, "input-options-error").startswith("not valid JSON")

        type_into(field(browser, "options"), '{"b": 1, "a": 2}')
        field(browser, "document").send_keys(str(BLUR_INPUT))
        choices[2].click()
        field(browser, "level").find_elements(By.TAG_NAME, "option")[2].click()
        assert run(browser) == "succeeded", text(browser, "error")
        names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#output dl > dt")]
        shown = dict(zip(names, browser.find_elements(By.CSS_SELECTOR, "#output dl > dd"), strict=True))
        assert (shown["mode"].text, shown["steps"].text) == ("exact", "12")  # steps 4 × level 3
        assert shown["keys"].text == '[\n  "a",\n  "b"\n]'  # JSON, indented
        link = shown["digest"].find_element(By.TAG_NAME, "a")  # a file inside the object: a download link
        assert link.get_dom_attribute("download") == "output.txt"
        assert (link.get_dom_attribute("href") or "").startswith("data:text/plain")
        assert_no_script_errors(browser)
