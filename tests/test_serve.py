"""``signssl serve``: the JSON API through FastAPI's TestClient on a tiny synthetic dictionary."""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from serve_toys import ToyDictionary, build_toy_dictionary, build_video_dictionary
from typer.testing import CliRunner

pytest.importorskip("fastapi")
pytest.importorskip("httpx2")

from fastapi.testclient import TestClient  # noqa: E402

from signssl.cli.main import app as cli_app  # noqa: E402
from signssl.errors import ConfigError  # noqa: E402
from signssl.eval.query import QueryEncoder  # noqa: E402
from signssl.eval.retrieval import Dictionary  # noqa: E402
from signssl.serve.app import ServeConfig, create_app, encoder_info  # noqa: E402

TOKEN = "s3cret"


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> ToyDictionary:
    return build_toy_dictionary(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def client(toy: ToyDictionary) -> TestClient:
    """A read-only server (no edits) on the shared dictionary."""
    return TestClient(create_app(ServeConfig(toy.path)))


@pytest.fixture
def own_dictionary(toy: ToyDictionary, tmp_path: Path) -> Path:
    """A copy of the dictionary this test may edit."""
    return Path(shutil.copy(toy.path, tmp_path / "d.safetensors"))


def editor(path: Path, token: str | None = TOKEN, **kw) -> TestClient:
    return TestClient(create_app(ServeConfig(path, allow_edits=True, token=token, **kw)))


def post(c: TestClient, data: bytes, name: str = "q.pose", url: str = "/search", **form):
    return c.post(url, files={"file": (name, data)}, data=form or None,
                  headers={"Authorization": f"Bearer {TOKEN}"})


def test_health_and_page(client: TestClient, toy: ToyDictionary) -> None:
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["entries"] == 12 and h["glosses"] == 3
    assert h["encoder"] == "raw-hand-keypoints" and h["edits"] is False
    page = client.get("/")
    assert page.status_code == 200 and "<title>Sign dictionary</title>" in page.text
    assert "/search" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("gloss", ["sign000", "sign001", "sign002"])
def test_search_of_an_unseen_signer_finds_the_gloss_first(client, toy, gloss) -> None:
    r = post(client, toy.queries[gloss].read_bytes())
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["gloss"] for x in body["results"]][0] == gloss
    assert len(body["results"]) == 3 and body["kind"] == ".pose"
    scores = [x["score"] for x in body["results"]]
    assert scores == sorted(scores, reverse=True)
    top = body["results"][0]
    assert top["entry"].startswith("e") and top["preview"]["frames"]
    assert body["query_preview"]["bones"] and len(body["query_preview"]["frames"]) == 6


def _retrieve_rows(dictionary: Path, query: Path) -> list[tuple[str, str]]:
    """``(gloss, score)`` rows printed by ``signssl retrieve``."""
    res = CliRunner().invoke(cli_app, ["retrieve", "--dictionary", str(dictionary), "--query",
                                       str(query), "-k", "3"])
    assert res.exit_code == 0, res.output
    rows = re.findall(r"│\s*\d+\s*│\s*(\S+)\s*│\s*([-\d.]+)\s*│", res.output)
    assert len(rows) == 3, res.output
    return rows


def test_search_equals_retrieve(client: TestClient, toy: ToyDictionary) -> None:
    """The app's answer is `signssl retrieve`'s: the printed table and the library call."""
    query = toy.queries["sign001"]
    body = post(client, query.read_bytes()).json()
    got = [(x["gloss"], f"{x['score']:.4f}") for x in body["results"]]
    assert got == _retrieve_rows(toy.path, query)
    d = Dictionary.load(toy.path)
    ref = d.search(QueryEncoder(d.info).embed(query).features, k=3)
    assert [x["gloss"] for x in body["results"]] == ref.labels[0]
    np.testing.assert_allclose([x["score"] for x in body["results"]], ref.scores[0], rtol=0, atol=1e-6)
    assert [x["entry"] for x in body["results"]] == [f"e{i}" for i in ref.indices[0]]


def test_content_decides_the_format_not_the_name(client, toy, tmp_path) -> None:
    """A .pose uploaded as 'clip.mp4' (or with a path as its name) is read as a .pose, and
    no file of the client's name appears."""
    data = toy.queries["sign002"].read_bytes()
    for name in ("clip.mp4", "../../escape.pose"):
        body = post(client, data, name=name).json()
        assert body["kind"] == ".pose" and body["results"][0]["gloss"] == "sign002"
    assert not (toy.path.parent / "escape.pose").exists() and not Path("escape.pose").exists()


def test_corrupt_and_unknown_uploads_get_one_clear_line(client, toy) -> None:
    pose = toy.queries["sign000"].read_bytes()
    cases = [
        (pose[:200], 422, "is not a readable .pose file"),
        (b"\x93NUMPY" + b"\x00" * 40, 422, "the upload"),
        (b"just some text that is no sign", 415, "not a file the dictionary can read"),
        (b"", 400, "the upload is empty"),
    ]
    for data, status, words in cases:
        r = post(client, data)
        assert r.status_code == status, r.text
        detail = r.json()["detail"]
        assert words in detail and "\n" not in detail and "Traceback" not in detail
        assert tempfile.gettempdir() not in detail  # no server path leaks


def test_video_for_a_pose_dictionary_says_how_to_install_mediapipe(client) -> None:
    pytest.importorskip("signssl")  # the message is only given where mediapipe is missing
    import importlib.util

    if importlib.util.find_spec("mediapipe") is not None:
        pytest.skip("mediapipe is installed here")
    r = post(client, b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64, name="sign.mp4")
    assert r.status_code == 422
    assert "pip install 'signssl[mediapipe]'" in r.json()["detail"]


def test_uploads_over_the_limit_are_refused(toy: ToyDictionary) -> None:
    c = TestClient(create_app(ServeConfig(toy.path, max_upload_mb=0.01)))  # 10 KiB
    big = toy.queries["sign000"].read_bytes() + b"\x00" * 20_000
    r = post(c, big)
    assert r.status_code == 413 and "larger than the server's limit of 0.01 MB" in r.json()["detail"]
    r = post(c, big + b"\x00" * 200_000)  # refused by its Content-Length, before reading
    assert r.status_code == 413


def test_temporary_files_are_removed(client, toy, tmp_path, monkeypatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    post(client, toy.queries["sign000"].read_bytes())
    post(client, b"\x93NUMPY broken")
    assert list(scratch.iterdir()) == []


def test_only_the_page_is_served(client: TestClient) -> None:
    for url in ("/static/index.html", "/../pyproject.toml", "/%2e%2e/%2e%2e/etc/passwd",
                "/signssl/serve/app.py"):
        assert client.get(url).status_code == 404, url


def test_edits_are_off_without_allow_edits(client: TestClient, toy: ToyDictionary) -> None:
    for method, url in (("get", "/entries"), ("delete", "/entries/e0"), ("get", "/export")):
        r = getattr(client, method)(url)
        assert r.status_code == 403 and "--allow-edits" in r.json()["detail"]
    r = post(client, toy.queries["sign000"].read_bytes(), url="/entries", gloss="x")
    assert r.status_code == 403


def test_edits_need_the_token(own_dictionary: Path, toy: ToyDictionary) -> None:
    c = editor(own_dictionary)
    assert c.get("/entries").status_code == 401
    r = c.get("/entries", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and "Authorization: Bearer" in r.json()["detail"]
    assert c.get("/entries", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert editor(own_dictionary, token=None).get("/entries").status_code == 200


def test_add_list_remove_export(own_dictionary: Path, toy: ToyDictionary) -> None:
    c = editor(own_dictionary)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    query = toy.queries["sign002"].read_bytes()
    r = post(c, query, url="/entries", gloss="hello", language="ase", source="test")
    assert r.status_code == 200, r.text
    new = r.json()["entry"]
    assert (new["gloss"], new["language"], new["source"]) == ("hello", "ase", "test")
    listed = c.get("/entries", headers=auth).json()["entries"]
    assert len(listed) == 13 and listed[-1]["id"] == new["id"]
    assert [e["id"] for e in listed[:12]] == [f"e{i}" for i in range(12)]  # ids kept
    top = post(c, query).json()["results"][0]  # the entry finds itself, with its preview
    assert (top["gloss"], top["entry"]) == ("hello", new["id"]) and top["score"] == pytest.approx(1.0)
    assert top["preview"]["frames"]
    on_disk = Dictionary.load(own_dictionary)
    assert len(on_disk) == 13 and on_disk.labels[-1] == "hello"
    assert on_disk.metadata["language"][-1] == "ase"

    assert c.delete("/entries/e3", headers=auth).json()["removed"]["id"] == "e3"
    assert c.delete("/entries/e3", headers=auth).status_code == 404
    ids = [e["id"] for e in c.get("/entries", headers=auth).json()["entries"]]
    assert "e3" not in ids and len(ids) == 12 and new["id"] in ids

    exported = c.get("/export", headers=auth)
    assert exported.content == own_dictionary.read_bytes()
    csv = c.get("/export?format=csv", headers=auth).text.splitlines()
    assert csv[0] == "id,gloss,language,source,signer,path" and len(csv) == 13
    assert c.delete(f"/entries/{new['id']}", headers=auth).status_code == 200
    assert not list((own_dictionary.parent / "d.safetensors.entries").iterdir())
    r = post(c, query, url="/entries", gloss="  ")
    assert r.status_code == 422 and "gloss" in r.json()["detail"]


def test_a_failed_write_leaves_the_file_and_the_server_as_they_were(own_dictionary, toy, monkeypatch):
    """The new file is written to a temporary and renamed: a crash mid-write leaves the old
    bytes, no temporary, and the server still answering from the old entries."""
    import safetensors.torch

    before = own_dictionary.read_bytes()
    c = editor(own_dictionary)

    def half_written(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", half_written)
    r = post(c, toy.queries["sign000"].read_bytes(), url="/entries", gloss="x")
    assert r.status_code == 500 and "could not write the dictionary (disk full)" in r.json()["detail"]
    assert own_dictionary.read_bytes() == before
    assert sorted(p.name for p in own_dictionary.parent.iterdir() if p.is_file()) == ["d.safetensors"]
    assert c.get("/health").json()["entries"] == 12


def test_concurrent_adds_are_serialised(own_dictionary: Path, toy: ToyDictionary) -> None:
    c = editor(own_dictionary)
    data = toy.queries["sign001"].read_bytes()
    codes: list[int] = []

    def add(i: int) -> None:
        codes.append(post(c, data, url="/entries", gloss=f"g{i}").status_code)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 6
    d = Dictionary.load(own_dictionary)
    assert len(d) == 18 and sorted(d.labels[12:]) == [f"g{i}" for i in range(6)]
    assert len(set(d.metadata["id"])) == 18


def test_encoder_options_must_match_the_dictionary() -> None:
    info = {"encoder": {"baseline": "raw-hand-keypoints", "checkpoint": None}}
    assert encoder_info(info, None, "raw-hand-keypoints") is info
    with pytest.raises(ConfigError, match="built with 'raw-hand-keypoints'"):
        encoder_info(info, None, "raw-keypoints")
    with pytest.raises(ConfigError, match="does not record its encoder"):
        encoder_info({}, None, None)
    assert encoder_info({}, None, "raw-keypoints")["encoder"]["baseline"] == "raw-keypoints"


def test_cli_errors_are_one_line(tmp_path: Path, toy: ToyDictionary, capsys) -> None:
    from signssl.cli.main import main

    for argv, words in (
        (["--dictionary", str(tmp_path / "none.safetensors")], "dictionary file does not exist"),
        (["--dictionary", str(toy.path), "--baseline", "raw-keypoints"], "queries must use the same encoder"),
        (["--dictionary", str(toy.path), "--token", "t"], "add --allow-edits"),
    ):
        with pytest.raises(SystemExit) as e:
            main(["serve", *argv])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert words in " ".join(err.split()) and "Traceback" not in err


def test_slow_decodes_time_out_and_still_clean_up(toy, tmp_path, monkeypatch) -> None:
    import time

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    app = create_app(ServeConfig(toy.path, decode_timeout_s=0.2))
    runner = app.state.runner
    slow_embed = runner.encoder.embed

    def slow(path):
        time.sleep(0.6)
        return slow_embed(path)

    monkeypatch.setattr(runner.encoder, "embed", slow)
    r = post(TestClient(app), toy.queries["sign000"].read_bytes())
    assert r.status_code == 504 and "longer than 0.2 s" in r.json()["detail"]
    deadline = time.monotonic() + 10
    while list(scratch.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(scratch.iterdir()) == []  # removed when the slow reader finished


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> ToyDictionary:
    return build_video_dictionary(tmp_path_factory.mktemp("serve-video"))


@pytest.fixture(scope="module")
def video_client(videos: ToyDictionary) -> TestClient:
    """A video dictionary's server with a 1 MB upload limit."""
    return TestClient(create_app(ServeConfig(videos.path, max_upload_mb=1)))


def test_video_query_equals_retrieve(video_client: TestClient, videos: ToyDictionary) -> None:
    """An mp4 of the dictionary finds its own gloss first, as `signssl retrieve` does."""
    assert video_client.get("/health").json()["video_encoder"] is True
    query = videos.queries["sign001"]
    r = post(video_client, query.read_bytes(), name="sign.mp4")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == ".mp4" and body["results"][0]["gloss"] == "sign001"
    assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-5)
    got = [(x["gloss"], f"{x['score']:.4f}") for x in body["results"]]
    assert got == _retrieve_rows(videos.path, query)


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _lying_npz(shape: tuple[int, ...]) -> bytes:
    """A tiny .npz whose array header declares ``shape`` (float32) over 100 zero bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": shape})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xyz.npy", header.getvalue() + b"\0" * 100)
    return buf.getvalue()


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _bad_uploads(toy: ToyDictionary, videos: ToyDictionary) -> dict[str, tuple[str, bytes, int, str]]:
    """name -> (dictionary, bytes, status, words of the answer)."""
    mp4 = videos.queries["sign000"].read_bytes()
    return {
        "empty": ("video", b"", 400, "the upload is empty"),
        "truncated mp4": ("video", mp4[: len(mp4) * 3 // 4], 422, "not a readable video"),
        "mp4 cut after its header": ("video", mp4[:100], 422, "not a readable video"),
        "text named .mp4": ("video", b"not a video, just some text\n", 415,
                            "not a file the dictionary can read"),
        "over the size limit": ("video", mp4 + b"\0" * 2**21, 413, "larger than the server's limit"),
        "zip bomb .npz": ("pose", _npz(xyz=np.zeros((2000, 543, 3), np.float32)), 413,
                          "declares 12.4 MB of arrays once inflated"),
        ".npz header declaring 650 GB": ("pose", _lying_npz((10**8, 543, 3)), 413,
                                         "once inflated, more than the server's limit of 8 MB"),
        ".npy of (T, 7, 2)": ("pose", _npy(np.random.default_rng(0).random((20, 7, 2))), 422,
                              "in a layout this dictionary cannot read"),
    }


def test_bad_uploads_are_refused_in_one_line_and_the_server_goes_on(toy, videos, video_client,
                                                                     monkeypatch) -> None:
    """Each bad upload gets its 4xx and one sentence; a good query right after still works.
    Archives are refused from their declared sizes: nothing is inflated (np.load unused)."""
    pose_client = TestClient(create_app(ServeConfig(toy.path, max_upload_mb=1)))
    clients = {"video": video_client, "pose": pose_client}
    good = {"video": (videos.queries["sign002"], "sign002"), "pose": (toy.queries["sign002"], "sign002")}
    real_load = np.load

    def no_archive_load(file, *a, **kw):
        assert not str(file).endswith(".npz"), "an oversize .npz was loaded"
        return real_load(file, *a, **kw)

    monkeypatch.setattr(np, "load", no_archive_load)
    for name, (which, data, status, words) in _bad_uploads(toy, videos).items():
        r = post(clients[which], data, name="clip.mp4")
        assert r.status_code == status, (name, r.text)
        detail = r.json()["detail"]
        assert words in detail and "\n" not in detail and "Traceback" not in detail, (name, detail)
        assert tempfile.gettempdir() not in detail, (name, detail)
        query, gloss = good[which]
        after = post(clients[which], query.read_bytes())
        assert after.status_code == 200 and after.json()["results"][0]["gloss"] == gloss, name


def test_a_compressed_npz_within_the_limit_is_read(toy: ToyDictionary, tmp_path: Path) -> None:
    from signssl.io import read_pose, write_npz

    npz = write_npz(read_pose(toy.queries["sign001"]), tmp_path / "q.npz", compress=True)
    c = TestClient(create_app(ServeConfig(toy.path, max_upload_mb=1)))
    body = post(c, npz.read_bytes()).json()
    assert body["kind"] == ".npz" and body["results"][0]["gloss"] == "sign001"
