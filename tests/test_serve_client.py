"""`examples/serve_client.py` against a live server: search, add, find, remove, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from script_loader import load_script
from serve_toys import ToyDictionary, build_toy_dictionary, serve

pytest.importorskip("uvicorn")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "serve_client.py"


@pytest.fixture(scope="module")
def client():
    return load_script(EXAMPLE)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ToyDictionary]]:
    yield from serve(build_toy_dictionary(tmp_path_factory.mktemp("client")), allow_edits=True,
                     token="s3cret")  # fmt: skip


def test_the_example_client_searches_adds_and_removes(client, server) -> None:
    url, toy = server
    query = toy.queries["sign002"]
    hits = client.search(url, query, k=3)
    assert [h["rank"] for h in hits] == [1, 2, 3] and hits[0]["gloss"] == "sign002"
    with pytest.raises(RuntimeError, match="401: a valid token is needed"):
        client.add_entry(url, query, "hello")
    entry = client.add_entry(url, query, "hello", token="s3cret")
    assert client.search(url, query, k=1)[0]["gloss"] == "hello"
    assert client.remove_entry(url, entry["id"], token="s3cret")["removed"]["id"] == entry["id"]
    assert client.search(url, query, k=1)[0]["gloss"] == "sign002"
    bad = query.with_name("broken.pose")
    bad.write_bytes(query.read_bytes()[:100])
    with pytest.raises(RuntimeError, match=r"^4\d\d: "):
        client.search(url, bad)
