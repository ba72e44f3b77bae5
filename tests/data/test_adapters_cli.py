"""Each corpus command of ``signssl manifest`` wired to its adapter, on one-sample fakes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from signssl.cli.manifest_cmds import register
from signssl.data import Manifest

VID = "AAAAAAAAAAA"


def _file(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _wlasl(d: Path) -> list[str]:
    gl = [{"gloss": f"g{i}", "instances": [{"video_id": str(i), "split": "train", "signer_id": 1,
                                            "frame_start": 1, "frame_end": -1}]} for i in range(101)]
    _file(d / "w.json", json.dumps(gl))
    for i in range(101):
        _file(d / "v" / f"{i}.mp4")
    return ["wlasl", str(d / "w.json"), "--videos", str(d / "v"), "--subset", "100"]


def _msasl(d: Path) -> list[str]:
    e = {"url": f"https://www.youtube.com/watch?v={VID}", "label": 0, "clean_text": "hi",
         "start_time": 0.0, "end_time": 1.0, "fps": 30, "signer_id": 1}
    _file(d / "j" / "MSASL_train.json", json.dumps([e]))
    _file(d / "v" / f"{VID}.mp4")
    return ["msasl", str(d / "j"), "--videos", str(d / "v"), "--subset", "100"]


def _autsl(d: Path) -> list[str]:
    _file(d / "l" / "train_labels.csv", "signer0_sample1,0\n")
    _file(d / "v" / "train" / "signer0_sample1_color.mp4")
    return ["autsl", str(d / "l"), "--videos", str(d / "v")]


def _slr500(d: Path) -> list[str]:
    _file(d / "r" / "000000" / "P01_1_color.mp4")
    return ["slr500", str(d / "r")]


def _nmfs(d: Path) -> list[str]:
    _file(d / "l" / "train.txt", "a/P01_1.mp4 0\n")
    _file(d / "d" / "a" / "P01_1.mp4")
    return ["nmfs-csl", str(d / "l"), "--data", str(d / "d")]


def _lsfb(d: Path) -> list[str]:
    _file(d / "r" / "instances.csv", "id,sign,signer,start,end\nX1,MAISON,1,0,10\n")
    _file(d / "r" / "metadata" / "splits" / "train.json", '["X1"]')
    _file(d / "r" / "metadata" / "splits" / "test.json", "[]")
    _file(d / "r" / "videos" / "X1.mp4")
    return ["lsfb-isol", str(d / "r")]


def _how2sign(d: Path) -> list[str]:
    cols = "VIDEO_ID\tVIDEO_NAME\tSENTENCE_ID\tSENTENCE_NAME\tSTART_REALIGNED\tEND_REALIGNED\tSENTENCE\n"
    _file(d / "c" / "how2sign_realigned_train.csv", cols + "v\tv-rgb\ts\tv_0-rgb\t1.0\t2.0\tHi.\n")
    _file(d / "v" / "v-rgb.mp4")
    return ["how2sign", str(d / "c"), "--videos", str(d / "v"), "--fps", "24"]


def _youtube_asl(d: Path) -> list[str]:
    _file(d / "ids.txt", f"{VID}\n")
    _file(d / "c" / f"{VID}.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhello\n")
    _file(d / "v" / f"{VID}.mp4")
    return ["youtube-asl", str(d / "ids.txt"), "--captions", str(d / "c"), "--fps", "30",
            "--videos", str(d / "v")]


@pytest.mark.parametrize("make, rows", [
    (_wlasl, 100), (_msasl, 1), (_autsl, 1), (_slr500, 1), (_nmfs, 1), (_lsfb, 1),
    (_how2sign, 1), (_youtube_asl, 1),
])
def test_corpus_command_writes_the_manifest(tmp_path: Path, make: Callable[[Path], list[str]],
                                            rows: int) -> None:
    app = typer.Typer()
    register(app)
    app.callback()(lambda: None)
    out = tmp_path / "m.csv"
    res = CliRunner().invoke(app, ["manifest", *make(tmp_path), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert len(Manifest.read(out)) == rows and "kept" in res.output
