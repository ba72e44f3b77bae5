"""The ``signssl`` command.  Thin: parses options and calls library functions.

Each sub-module of ``signssl.cli`` defines ``register(app)`` adding its commands.
User errors (:class:`signssl.errors.SignSSLError`) print one line and exit with code 2.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer
from rich.console import Console
from rich.markup import escape

from signssl.errors import SignSSLError

app = typer.Typer(
    name="signssl",
    help="Self-supervised sign-language representation learning (SignRep, SSL-SLR, MASA).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

#: command modules, in the order their commands are listed in --help
COMMAND_MODULES = [
    "io_cmds", "manifest_cmds", "video_cmds", "synth_cmds", "eval_cmds", "train_cmds",
    "priors_cmds", "features_cmds", "export_cmds", "serve_cmds", "shard_cmds",
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"signssl.cli.{_name}").register(app)

err = Console(stderr=True, highlight=False)


class _PrintWarnings(logging.Handler):
    """The library's warnings (:func:`signssl.utils.warn`) as one ``warning:`` line each."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning:[/] {escape(record.getMessage())}", soft_wrap=True)


_library_log = logging.getLogger("signssl")
if not any(isinstance(h, _PrintWarnings) for h in _library_log.handlers):
    _library_log.addHandler(_PrintWarnings(logging.WARNING))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``signssl`` script."""
    try:
        app(args=argv, standalone_mode=True)
    except SignSSLError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
