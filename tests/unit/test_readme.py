"""The README tells the truth: the two commands first, the generated reference up to date."""

from __future__ import annotations

from pathlib import Path

from webscale.api.reference import render_into

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_starts_with_the_two_commands():
    head = README.read_text().split("```", 2)[1]
    assert "make run" in head and "make test" in head


def test_reference_table_is_current():
    text = README.read_text()
    assert render_into(text) == text, "README reference table is stale: run `make docs`"
