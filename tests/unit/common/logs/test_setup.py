"""Unit tests of the logging set-up every process applies."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from merchstore.common.logs.setup import configure_logging
from merchstore.settings import load_settings

CHATTY_LIBRARIES = ("httpx", "apscheduler")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root logger and the libraries' loggers back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in CHATTY_LIBRARIES}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)


@pytest.mark.usefixtures("restored_logging")
def test_libraries_log_only_warnings_while_services_log_at_info(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MERCHSTORE_LOG_LEVEL", raising=False)
    configure_logging(load_settings(), "processor")
    assert logging.getLogger("merchstore.processor.use_cases").isEnabledFor(logging.INFO)
    for name in CHATTY_LIBRARIES:
        library = logging.getLogger(f"{name}.anything")
        assert not library.isEnabledFor(logging.INFO), name
        assert library.isEnabledFor(logging.WARNING), name
