"""A real Chromium (the system's, headless) and ``aether ui`` servers for the UI tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from support.ui_pages import CHROMIUM, CHROMIUM_ARGS, UiServer


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def start_ui() -> Iterator[Callable[..., UiServer]]:
    started: list[UiServer] = []

    def start(db: Path | str, *options: str) -> UiServer:
        server = UiServer(db, *options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
