"""Search and edit a `signssl serve` dictionary from Python, with the standard library only.

    signssl serve --dictionary dict.safetensors --allow-edits --token SECRET &
    python examples/serve_client.py http://127.0.0.1:8000 sign.pose            # search
    python examples/serve_client.py http://127.0.0.1:8000 sign.pose --add HELLO --token SECRET

The same calls the page makes (`POST /search`, `GET/POST/DELETE /entries`); the server's
OpenAPI page (`/docs`) documents every field.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import uuid
from pathlib import Path
from typing import Any
from urllib import error, request


def _multipart(path: Path, fields: dict[str, str]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with the file under ``file`` and the text fields."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]  # fmt: skip
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="upload"\r\nContent-Type: {kind}\r\n\r\n'.encode()
                 + path.read_bytes() + b"\r\n")  # fmt: skip
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def call(url: str, method: str = "GET", path: Path | None = None,
         fields: dict[str, str] | None = None, token: str | None = None) -> dict[str, Any]:  # fmt: skip
    """One API call; the server's one-line reason is raised as ``RuntimeError``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if path is not None:
        data, boundary = _multipart(Path(path), fields or {})
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    req = request.Request(url, data=data, method=method, headers=headers)
    try:
        with request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read())
    except error.HTTPError as e:
        raise RuntimeError(f"{e.code}: {json.loads(e.read()).get('detail')}") from None


def search(server: str, sign: Path, k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` best glosses for a keypoint file or video: ``[{rank, gloss, score, ...}]``."""
    return call(f"{server}/search?k={k}", "POST", sign)["results"]


def add_entry(server: str, sign: Path, gloss: str, token: str | None = None) -> dict[str, Any]:
    """Add ``sign`` under ``gloss`` (server started with --allow-edits); the new entry."""
    return call(f"{server}/entries", "POST", sign, {"gloss": gloss}, token)["entry"]


def remove_entry(server: str, entry_id: str, token: str | None = None) -> dict[str, Any]:
    return call(f"{server}/entries/{entry_id}", "DELETE", token=token)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("server")
    ap.add_argument("sign", type=Path)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--add", metavar="GLOSS", help="Add the sign under this gloss instead.")
    ap.add_argument("--token")
    args = ap.parse_args()
    if args.add:
        print(add_entry(args.server, args.sign, args.add, args.token))
        return
    for hit in search(args.server, args.sign, args.k):
        print(f"{hit['rank']:>2}  {hit['gloss']:<24} {hit['score']:.3f}")


if __name__ == "__main__":
    main()
