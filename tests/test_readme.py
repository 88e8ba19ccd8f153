"""The README is the manual: its commands are real and its reference tables are in step."""

from __future__ import annotations

import re
from pathlib import Path

import click

from cli.main import cli
from ledger.events import reference_markdown

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:sh|bash)?\n(.*?)```", text, flags=re.S)


def test_readme_opens_with_the_demo_and_the_test_command() -> None:
    first, second = _code_blocks(README)[:2]
    assert "pip install" in first and "examples/run-demo.sh" in first
    assert "pip install" in second and "pytest" in second


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = _code_blocks(README)[1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_event_reference_is_generated_from_the_models() -> None:
    block = README.split("<!-- events:begin -->\n", 1)[1].split("\n<!-- events:end -->", 1)[0]
    assert block == reference_markdown()


def _leaf_commands(group: click.Group, prefix: str = "ledger") -> list[str]:
    out: list[str] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out.extend(_leaf_commands(command, f"{prefix} {name}"))
        else:
            out.append(f"{prefix} {name}")
    return out


def test_every_command_has_an_example_in_the_readme() -> None:
    missing = [c for c in _leaf_commands(cli) if f"`{c} " not in README and f"`{c}`" not in README]
    assert missing == []


def test_files_named_in_the_readme_exist() -> None:
    """The demo files and the benchmark documents the README points to."""
    for path in re.findall(r"(?:examples|bench)/[\w.-]+", README):
        assert (ROOT / path).exists(), path


def test_the_readme_duckdb_queries_are_the_ones_the_export_tests_run() -> None:
    from tests.test_export import README_QUERIES

    sql = " ".join(re.findall(r"```sql\n(.*?)```", README, flags=re.S)[0].split())
    for name, query in README_QUERIES.items():
        assert " ".join(query.split()).rstrip(";") in sql, name


def test_every_dependency_is_in_the_readme_with_a_reason() -> None:
    """Each package pyproject.toml installs, the test extra's too, has a row in the README's
    dependency table saying why."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    names = {re.split(r"[\[<>=!~ ]", spec, maxsplit=1)[0] for spec in wanted}
    table = README.split("## Dependencies\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([\w.-]+)(?:\[\w+\])?`", "\n".join(
        row.split("|")[1] for row in table.splitlines() if row.startswith("| ") and "---" not in row)))
    assert sorted(names - listed) == []
