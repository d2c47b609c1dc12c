"""Where the repository's files are, for tests that check documents against the code."""

from __future__ import annotations

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
"""The repository's root folder."""
