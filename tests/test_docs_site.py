"""The documentation site: it builds strictly, its reference reaches every public name, and
in a real browser (Debian's headless Chromium, driven by Playwright) its pages load their
images, its search finds ``LSTMCell`` and its console shows no error.

The site is built once per session (``mkdocs build --strict`` into a temporary folder) with
the tutorial notebooks rendered but not executed: tests/test_tutorial.py runs them, and
``make docs`` builds them with their outputs. Set ``MINIGRAD_SCREENSHOTS=folder`` to keep
the browser's screenshots there (they go to a temporary folder otherwise).
"""
from __future__ import annotations

import functools
import http.server
import inspect
import os
import pathlib
import re
import subprocess
import sys
import threading
import zlib

import pytest

from test_reference import public_objects

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Chromium quiet and self-contained: no GPU, no calls home, no first-run pages
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The built site's folder (skips where the docs extra is not installed)."""
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter"):
        pytest.importorskip(module, reason="the docs extra is not installed "
                                           "(pip install -e '.[docs]', or make test)")
    folder = tmp_path_factory.mktemp("site")
    env = dict(os.environ, MINIGRAD_DOCS_EXECUTE="false", NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "--site-dir", str(folder)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-6000:]}"
    return folder


def _inventory(site):
    """The dotted names the reference pages document (mkdocstrings' objects.inv)."""
    data = (site / "objects.inv").read_bytes()
    body = zlib.decompress(data.split(b"\n", 4)[4]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line}


def _on_a_page(name, obj, documented):
    """Whether the inventory lists ``obj``: where it is defined, under its public name,
    or (a method) inside its class as the package exports it (a page showing
    ``minigrad.optim.Optimizer`` lists ``minigrad.optim.optimizers.Optimizer.step`` as
    ``minigrad.optim.Optimizer.step``)."""
    path = _defined_at(obj)
    if path in documented or name in documented:
        return True
    function = obj.fget if isinstance(obj, property) else obj
    qualname = function.__qualname__
    package = path.split(".")[0]
    return "." in qualname and "<" not in qualname and any(
        entry.startswith(package + ".") and entry.endswith("." + qualname)
        for entry in documented)


def _defined_at(obj):
    function = obj.fget if isinstance(obj, property) else obj
    return f"{function.__module__}.{function.__qualname__}"


def test_every_public_name_is_on_a_reference_page(site):
    documented = _inventory(site)
    tensor_page = (site / "reference" / "tensor" / "index.html").read_text()
    missing = []
    for name, obj in public_objects():
        path = _defined_at(obj)
        owner, _, attribute = name.rpartition(".")
        if _on_a_page(name, obj, documented):
            continue
        if "<locals>" in path or path.rsplit(".", 1)[-1].startswith("_"):
            # made by a factory and bound to Tensor: listed in the page's methods table
            if owner.endswith(".Tensor") and f"x.{attribute}" in tensor_page:
                continue
        function = obj.fget if isinstance(obj, property) else obj
        if function.__doc__ is None:
            # an override without a docstring of its own: its base's entry describes it
            cls = getattr(sys.modules.get(function.__module__), path.split(".")[-2], None)
            bases = inspect.getmro(cls)[1:] if isinstance(cls, type) else ()
            if any(f"{b.__module__}.{b.__qualname__}.{attribute}" in documented
                   for b in bases):
                continue
        missing.append(f"{name} (defined at {path})")
    assert not missing, ("public names on no reference page (add them to a page in "
                         "docs/reference/):\n  " + "\n  ".join(missing))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def served(site):
    """The site served on a free port of 127.0.0.1; yields its address."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser_page(served, tmp_path_factory):
    """A Playwright page in Debian's Chromium with a fresh profile, and the list its
    console errors and page errors are collected in."""
    if not pathlib.Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM}: install Debian's chromium (make chromium)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (the test extra)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    errors = []
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.on("console", lambda message: message.type == "error" and errors.append(
                f"console: {message.text} ({page.url})"))
            page.on("pageerror", lambda error: errors.append(f"page: {error} ({page.url})"))
            page.on("requestfailed", lambda request: errors.append(
                f"request failed: {request.url} ({request.failure})"))
            yield page, errors
        finally:
            context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    folder = os.environ.get("MINIGRAD_SCREENSHOTS")
    if folder:
        path = pathlib.Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


PAGES = {
    "home": "/",
    "lstm_reference": "/reference/models_layers/#models.layers.LSTM",
    "tutorial_en": "/tutorial/en/",
    "tutorial_ko": "/tutorial/ko/",
    "graphs": "/graphs/",
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_with_its_images_and_no_error(browser_page, served, screenshots, name):
    page, errors = browser_page
    errors.clear()
    response = page.goto(served + PAGES[name], wait_until="load")
    assert response is not None and response.ok, f"{PAGES[name]}: HTTP {response.status}"
    images = page.eval_on_selector_all(
        "article img", "images => images.map(i => [i.getAttribute('src'), i.complete, "
                       "i.naturalWidth])")
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert not broken, f"{PAGES[name]}: images that did not load: {broken}"
    if name in ("home", "graphs"):
        assert images, f"{PAGES[name]}: no images at all"
    if name == "lstm_reference":
        heading = page.locator("[id='models.layers.LSTM']")
        assert heading.count() == 1 and "LSTM" in heading.inner_text()
        heading.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"{name}.png"))
    assert not errors, f"{PAGES[name]}: " + "; ".join(errors)


def test_search_finds_lstmcell(browser_page, served, screenshots):
    page, errors = browser_page
    errors.clear()
    page.goto(served + "/", wait_until="load")
    search = page.locator("input.md-search__input")
    search.click()
    search.press_sequentially("LSTMCell", delay=20)   # Material listens to the keys
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=20_000)        # the index loads in a web worker
    texts = results.all_inner_texts()
    assert any("LSTMCell" in text for text in texts), texts[:5]
    page.screenshot(path=str(screenshots / "search.png"))
    assert not errors, "; ".join(errors)



def test_notebook_math_is_mathml(site):
    """The tutorials' LaTeX is drawn by the browser from MathML (scripts/mkdocs_hooks.py):
    no formula is left as ``$...$`` text for a MathJax the pages never load."""
    verbatim = re.compile(r"<(pre|code|script|style)\b.*?</\1>", re.S | re.I)
    notebooks = sorted((ROOT / "docs" / "tutorial").glob("*/*.py"))
    assert notebooks, "no tutorial notebooks in docs/tutorial/*/"
    for source in notebooks:
        page = site / source.relative_to(ROOT / "docs").with_suffix("") / "index.html"
        text = verbatim.sub("", page.read_text())
        assert "$$" not in text, f"{page}: display math left as text"
        if re.search(r"^# .*\$[^$]+\$", source.read_text(), re.M):
            assert "<math" in text, f"{page}: its notebook has math, the page has none"
