"""``signssl serve``: a sign dictionary searched in the browser (the ``[serve]`` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer
from rich.console import Console

from signssl.errors import ConfigError, MissingExtraError

console = Console(highlight=False, stderr=True)


def serve(
    dictionary: Path = typer.Option(..., "--dictionary", help="Dictionary file (signssl dictionary build)."),
    checkpoint: str | None = typer.Option(
        None, "--checkpoint", help="The run the dictionary was built with (default: the one it records)."),
    baseline: str | None = typer.Option(
        None, "--baseline", help="The baseline the dictionary was built with (default: the one it records)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    allow_edits: bool = typer.Option(
        False, "--allow-edits", help="Allow listing, adding, removing and exporting entries."),
    token: str | None = typer.Option(
        None, "--token", envvar="SIGNSSL_SERVE_TOKEN",
        help="With --allow-edits: edits need the header 'Authorization: Bearer TOKEN'."),
    max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", help="Largest upload accepted."),
    decode_timeout: float = typer.Option(
        60.0, "--decode-timeout", help="Seconds reading and embedding one upload may take."),
) -> None:
    """Serve a dictionary: a search page at http://HOST:PORT/, its JSON API at /docs."""
    if token is not None and not allow_edits:
        raise ConfigError("--token guards edits, which are off: add --allow-edits (or drop --token)")
    for package in ("fastapi", "uvicorn", "multipart"):
        if importlib.util.find_spec(package) is None:
            raise MissingExtraError("fastapi, uvicorn and python-multipart", "serve")
    import uvicorn

    from signssl.serve.app import ServeConfig, create_app  # lazy: fastapi

    app = create_app(ServeConfig(dictionary, checkpoint, baseline, allow_edits, token,
                                 max_upload_mb, decode_timeout))
    console.print(f"serving {dictionary} at http://{host}:{port}/ (API: /docs)"
                  + ("; edits allowed" if allow_edits else ""))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(serve)
