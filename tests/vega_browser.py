"""Open `dvc plots show`'s HTML page in headless Chromium and report what Vega drew.

DVC's page loads Vega, Vega-Lite and vega-embed from a CDN, which machines without the
internet cannot reach. `offline_template` is DVC's own page template with those
script tags pointed at local copies (`make browser-deps` fetches the same versions from
the npm registry into the virtual environment) and every vegaEmbed call recorded, so a
test sees each view and the marks Vega drew in it.
"""

import re
import sys
from pathlib import Path

from dvc_render.html import PAGE_HTML
from dvc_render.vega import VegaRenderer

from tests import browser

VEGA_DIR = Path(sys.prefix) / "share" / "vega"
CDN_SCRIPT = re.compile(r'src="https://cdn\.jsdelivr\.net/npm/([\w-]+)@[\d.]+"')

RECORD_VIEWS = """
<script>
  window.renderedViews = []; window.renderErrors = [];
  const embed = window.vegaEmbed;
  window.vegaEmbed = (element, spec, options) => embed(element, spec, options).then(
    result => { renderedViews.push({element, view: result.view}); return result; },
    error => { renderErrors.push(`${element}: ${error}`); throw error; });
</script>
"""

# Items drawn by data marks (Vega's role "mark"), per view: axes, legends and titles
# have other roles, so an empty chart counts 0.
COUNT_MARKS = """
const countItems = node =>
  (node.marktype && node.marktype !== "group" && node.role === "mark" ? node.items.length : 0)
  + (node.items || []).reduce((sum, item) => sum + countItems(item), 0);
return renderedViews.map(({element, view}) => [element, countItems(view.scenegraph().root)]);
"""


def missing() -> str | None:
    """Why the browser check cannot run here, or None."""
    return browser.missing((VEGA_DIR / "vega-embed.min.js", "make browser-deps"))


def offline_template() -> str:
    scripts = CDN_SCRIPT.sub(
        lambda match: f'src="{(VEGA_DIR / match[1]).as_uri()}.min.js"', VegaRenderer.SCRIPTS
    )
    assert "cdn.jsdelivr.net" not in scripts, scripts
    return PAGE_HTML.replace("{scripts}", scripts + RECORD_VIEWS)


def render(page: Path, screenshot: Path, expected_views: int, timeout: float = 60) -> dict[str, int]:
    """Data-mark items per rendered view of `page`; fails on a Vega error or when fewer
    than `expected_views` views render within `timeout` seconds. Saves a screenshot of
    the whole page."""
    from selenium.webdriver.support.wait import WebDriverWait

    driver = browser.chromium()
    try:
        driver.get(page.as_uri())
        WebDriverWait(driver, timeout).until(
            lambda d: d.execute_script(
                "return renderErrors.length > 0 || renderedViews.length >= arguments[0]", expected_views
            )
        )
        errors = driver.execute_script("return renderErrors")
        assert not errors, errors
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1400, min(height + 100, 16000))
        driver.save_screenshot(str(screenshot))
        return dict(driver.execute_script(COUNT_MARKS))
    finally:
        driver.quit()
