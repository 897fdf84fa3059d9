"""Waiting on a running Qt application from a benchmark or screenshot script: pump its events for a while,
or until something is done (what a reader sees is only drawn while events are processed)."""

from __future__ import annotations

import time
from collections.abc import Callable


def pump(app, seconds: float = 0.3) -> None:
    """Process ``app``'s events for ``seconds``."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)


def wait_until(app, condition: Callable[[], bool], timeout: float = 900.0, what: str = "step") -> None:
    """Process ``app``'s events until ``condition()`` holds; TimeoutError naming ``what`` after ``timeout`` s."""
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError(f"{what} did not finish")
        app.processEvents()
        time.sleep(0.005)
