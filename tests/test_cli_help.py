"""Every command's ``--help`` renders (the docstrings are read as Markdown)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from signssl.cli.main import app


def _commands() -> list[list[str]]:
    out = [[c.name or c.callback.__name__.replace("_", "-")] for c in app.registered_commands]
    for group in app.registered_groups:
        out.append([group.name])
        out += [[group.name, c.name or c.callback.__name__.replace("_", "-")]
                for c in group.typer_instance.registered_commands]  # fmt: skip
    return out


def test_every_command_is_listed_and_has_help() -> None:
    commands = _commands()
    assert ["import-hiera"] in commands and ["manifest", "check"] in commands
    top = CliRunner().invoke(app, ["--help"])
    assert top.exit_code == 0
    for path in commands:
        assert path[0] in top.output, path


@pytest.mark.parametrize("path", _commands(), ids=" ".join)
def test_help_renders(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: signssl {' '.join(path)}" in " ".join(result.output.split())


def test_pretrain_help_lists_every_registered_method() -> None:
    from signssl.methods import list_methods

    result = CliRunner().invoke(app, ["pretrain", "--help"], terminal_width=400)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for name in list_methods():
        assert name in text, name
