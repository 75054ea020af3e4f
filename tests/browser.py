"""Headless Chromium through selenium, for the tests that look at a page as people do
(`dvc plots show`'s page, stages.serve's page). Needs Debian's chromium and
chromium-driver (.ci/run installs them)."""

import shutil
from pathlib import Path

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def missing(*also: tuple[Path, str]) -> str | None:
    """Why a browser test cannot run here, or None; `also`: more (path, remedy) it needs."""
    for path, remedy in (
        (CHROMIUM, "apt-get install chromium chromium-driver"),
        (CHROMEDRIVER, "apt-get install chromium-driver"),
        *also,
    ):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            return f"{path} not found: run `{remedy}`"
    return None


def chromium(width: int = 1400, height: int = 1000):
    """A headless Chromium driver (quit it when done)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which(CHROMIUM) or CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--allow-file-access-from-files",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which(CHROMEDRIVER) or CHROMEDRIVER), options=options)
