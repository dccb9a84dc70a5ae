"""The README's configuration reference is generated from the schema: it must not drift."""

from pathlib import Path

from edu_affect_data.config_doc import config_reference_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_holds_the_current_config_reference() -> None:
    assert config_reference_markdown() in README.read_text(), (
        "README.md's configuration reference is stale: replace the block between the "
        "config-reference markers with the output of `edu-data config-reference`"
    )


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text().split("\n## ", 1)[0]
    assert "make demo" in head and "make test" in head
