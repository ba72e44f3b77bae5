"""User-facing errors.

Every error a user can cause (a bad file, an unknown name, a wrong shape) is a
:class:`SignSSLError`.  The message names the file or the value and says what to do;
the CLI prints it on one line and exits non-zero, with no traceback.
"""

from __future__ import annotations

from pathlib import Path


class SignSSLError(Exception):
    """Base class for errors caused by input, configuration or environment."""


class DataError(SignSSLError, ValueError):
    """A data file cannot be used.  ``path`` names it when known."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class LayoutError(SignSSLError, ValueError):
    """An unknown layout, part or joint name, or a flat vector of the wrong length."""


class ConfigError(SignSSLError, ValueError):
    """A configuration value or command-line option is invalid."""


class FolderInUseError(ConfigError):
    """Another live job writes to the output folder (``--out``) this job was given."""


class MissingExtraError(SignSSLError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the optional package '{package}': "
            f"install it with  pip install -c constraints.txt -e '.[{extra}]'"
        )
