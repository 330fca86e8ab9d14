"""The settings documentation is the generated table, so no setting goes undocumented."""

from __future__ import annotations

from pathlib import Path

from gnomon import settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_docs_settings_page_contains_the_generated_table_of_every_setting() -> None:
    assert settings.markdown_table().strip() in DOCS.read_text()
