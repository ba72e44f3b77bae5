"""Options shared by several commands (:mod:`signssl.cli.option_groups`)."""

from __future__ import annotations

import inspect

import pytest
import typer
from typer.testing import CliRunner

from signssl.cli.option_groups import with_defaults, with_options


def span(start: int = typer.Option(0, "--start", help="First frame."),
         stop: int = typer.Option(..., "--stop", help="Frame after the last.")) -> range:
    return range(start, stop)


def test_a_builder_s_options_replace_its_parameter_in_place() -> None:
    @with_options(frames=span)
    def show(name: str, frames: range, step: int = 1) -> str:
        return f"{name} {list(frames)[::step]}"

    assert list(inspect.signature(show).parameters) == ["name", "start", "stop", "step"]
    assert show(name="a", start=1, stop=6, step=2) == "a [1, 3, 5]"


def test_typer_parses_the_options_and_the_command_gets_the_object() -> None:
    app = typer.Typer()
    seen = []

    @app.command()
    @with_options(frames=span)
    def show(frames: range, step: int = typer.Option(1, "--step")) -> None:
        seen.append((frames, step))

    result = CliRunner().invoke(app, ["--stop", "4", "--step", "2"])
    assert result.exit_code == 0, result.output
    assert seen == [(range(0, 4), 2)]
    assert CliRunner().invoke(app, []).exit_code == 2  # --stop is required


def test_with_defaults_changes_one_option_and_keeps_the_others() -> None:
    build = with_defaults(span, start=typer.Option(2, "--start", help="From frame 2."))
    params = inspect.signature(build).parameters
    assert params["start"].default.default == 2
    assert params["stop"].default is inspect.signature(span).parameters["stop"].default
    assert build(start=3, stop=5) == range(3, 5)
    with pytest.raises(TypeError, match="no option"):
        with_defaults(span, end=1)


def test_an_option_named_twice_is_refused() -> None:
    def clash(frames: range, start: int = 0) -> None:
        pass

    with pytest.raises(TypeError, match="named twice"):
        with_options(frames=span)(clash)
    with pytest.raises(TypeError, match="without a parameter"):
        with_options(other=span)(clash)


@pytest.mark.parametrize("flag", ["--source-layout", "--layout"])
def test_the_source_layout_option_carries_the_library_name(flag: str) -> None:
    """``--source-layout`` (older name ``--layout``) is ``EncoderSpec.source_layout``;
    ``--model-layout`` is the encoder's own layout (``EncoderSpec.layout``)."""
    from signssl.cli.eval_cmds import encoder_options

    app = typer.Typer()
    seen = []

    @app.command()
    @with_options(encoder=encoder_options)
    def show(encoder: object) -> None:
        seen.append(encoder)

    args = ["--baseline", "raw-keypoints", flag, "holistic", "--model-layout", "hands"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (seen[0].source_layout, seen[0].layout) == ("holistic", "hands")
