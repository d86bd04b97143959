"""The docs that are generated from code must match the code."""

from pathlib import Path

from mrrrme import configdoc

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_table_is_up_to_date() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert documented == configdoc.render(), "run `make docs` to regenerate docs/configuration.md"


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make run" in head and "make test" in head


def test_ci_calls_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
