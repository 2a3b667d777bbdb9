"""A real browser (headless Chromium from Debian, driven by Selenium) uses the demo: it types a
caption, clicks Generate and finds the generated images. The screenshot it takes is the README's
(set DEMO_SCREENSHOT to choose where it is written).

Skipped when Chromium is not installed, unless REQUIRE_BROWSER=1 (CI sets it, after installing
chromium and chromium-driver), in which case a missing browser fails the test.
"""
import os
import shutil
from pathlib import Path

import pytest

from demo.app import build_app, launch

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("chromium / chromedriver not found (apt-get install chromium chromium-driver)")
        pytest.skip("chromium / chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1280,1100"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def test_browser_generates_images(browser, free_port, tmp_path):
    """Against the app as shipped: the committed StackGAN checkpoint and results/."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    app = build_app()
    assert app is not None
    _, url, _ = launch(app, port=free_port(), block=False)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "textarea")))
        box.clear()
        box.send_keys("a yellow heart with white dots")
        button = next(b for b in browser.find_elements(By.TAG_NAME, "button") if b.text.strip() == "Generate")
        button.click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#stage2-gallery img")) >= 4)
        images = browser.find_elements(By.CSS_SELECTOR, "#stage2-gallery img")
        assert all(img.get_attribute("src") for img in images)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#stage1-gallery img")) >= 4
        shot = Path(os.environ.get("DEMO_SCREENSHOT", tmp_path / "demo.png"))
        shot.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        app.close()
