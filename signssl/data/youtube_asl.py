"""YouTube-ASL (Uthus et al. 2023): video id list + caption files -> manifest of unlabeled
caption segments (a pretraining source).

Official file read: the released list of YouTube video ids (``youtube_asl_video_ids.txt``),
one id per line.  The corpus gives no clips: the videos and their English captions are
fetched from YouTube, so the adapter reads, per id,

* the video (or pose file) ``<id>.<ext>`` in the media folder;
* its caption file in the captions folder: WebVTT ``<id>.vtt`` / ``<id>.<lang>.vtt``
  (cues ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` then text lines), or YouTube's JSON timed
  text ``<id>.json`` / ``<id>.<lang>.json3`` (``events`` with ``tStartMs``,
  ``dDurationMs`` and ``segs[].utf8``).

Each caption with text becomes one row: the video, the caption's frames at ``fps``
(``[floor(start * fps), ceil(end * fps))``), label empty, the caption in ``text``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.official import finish, media_folder, read_text, relative, seconds_to_frames
from signssl.data.report import ItemReport
from signssl.errors import DataError

_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_CUE_TIME = re.compile(r"^((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})")
_TAG = re.compile(r"<[^>]*>")
#: a caption: (start s, end s, text)
Caption = tuple[float, float, str]


def vtt_seconds(stamp: str) -> float:
    """``"01:02:03.500"`` or ``"02:03,5"`` -> seconds.

    >>> vtt_seconds("01:02:03.500"), vtt_seconds("00:04.25")
    (3723.5, 4.25)
    """
    parts = stamp.replace(",", ".").split(":")
    return sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts)))


def parse_vtt(text: str) -> tuple[list[Caption], int]:
    """Captions of a WebVTT file and the number of cues without text (tags removed)."""
    captions: list[Caption] = []
    empty = 0
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _CUE_TIME.match(lines[i].strip())
        i += 1
        if m is None:
            continue
        body = []
        while i < len(lines) and lines[i].strip():
            body.append(_TAG.sub("", lines[i]).strip())
            i += 1
        words = " ".join(b for b in body if b)
        if words:
            captions.append((vtt_seconds(m.group(1)), vtt_seconds(m.group(2)), words))
        else:
            empty += 1
    return captions, empty


def parse_timedtext(data: object) -> tuple[list[Caption], int]:
    """Captions of YouTube's JSON timed text (``{"events": [...]}``) and the number of
    events without text."""
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise ValueError("expected a JSON object with an 'events' list")
    captions: list[Caption] = []
    empty = 0
    for ev in events:
        segs = ev.get("segs") if isinstance(ev, dict) else None
        if not isinstance(segs, list):
            continue  # window / style events carry no text
        words = " ".join("".join(str(s.get("utf8", "")) for s in segs if isinstance(s, dict)).split())
        start, dur = ev.get("tStartMs"), ev.get("dDurationMs")
        if not words or not isinstance(start, int | float) or not isinstance(dur, int | float):
            empty += 1
            continue
        captions.append((start / 1000.0, (start + dur) / 1000.0, words))
    return captions, empty


def _caption_file(captions_dir: Path, vid: str) -> Path | None:
    for pattern in (f"{vid}.vtt", f"{vid}.*.vtt", f"{vid}.json", f"{vid}.*.json3", f"{vid}.json3"):
        hits = sorted(captions_dir.glob(pattern))
        if hits:
            return hits[0]
    return None


def _read_captions(path: Path) -> tuple[list[Caption], int]:
    text = read_text(path, "caption file")
    if path.suffix == ".vtt":
        return parse_vtt(text)
    try:
        return parse_timedtext(json.loads(text))
    except (ValueError, RecursionError) as e:
        raise DataError(f"is not YouTube JSON timed text: {e}", path) from None


def manifest_from_youtube_asl(
    ids_file: str | Path,
    captions_dir: str | Path,
    fps: float,
    videos_dir: str | Path | None = None,
    poses_dir: str | Path | None = None,
) -> tuple[Manifest, ItemReport]:
    """Build an unlabeled manifest of YouTube-ASL's caption segments.

    Args:
        ids_file: the video id list (one id per line; blank lines and ``#`` comments skipped).
        captions_dir: folder of the caption files (``<id>.vtt``, ``<id>.en.vtt``, ``<id>.json``).
        fps: frame rate of the downloaded videos (or of the pose files extracted from them).
        videos_dir: folder of ``<id>.<ext>`` videos.
        poses_dir: folder of pose samples named by id; takes precedence.
    Returns:
        ``(manifest, report)``: one row per caption, label/signer/split empty, extra
        columns ``text``, ``youtube_id``, ``start_s``, ``end_s``.  Counted, not used:
        ``bad id`` (not an 11-character YouTube id), ``duplicate`` (an id listed twice),
        ``missing file``, ``missing captions``, ``unreadable captions``, ``empty caption``
        (a cue without text), ``bad cue`` (end not after start).
    """
    ids_file, captions_dir = Path(ids_file), Path(captions_dir)
    lines = read_text(ids_file, "YouTube-ASL video id list").splitlines()
    if not captions_dir.is_dir():
        raise DataError("captions folder does not exist", captions_dir)
    if not fps > 0:
        raise DataError(f"fps must be > 0, got {fps}", ids_file)
    folder, files = media_folder(videos_dir, poses_dir, ids_file)
    report = ItemReport()
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    for n, raw in enumerate(lines, start=1):
        vid = raw.strip()
        if not vid or vid.startswith("#"):
            continue
        where = f"{ids_file}, line {n}"
        if not _VIDEO_ID.match(vid):
            report.add("bad id", where, f"{vid!r} is not an 11-character YouTube id")
            continue
        if vid in seen:
            report.add("duplicate", where, f"id {vid} listed before")
            continue
        seen.add(vid)
        sample = files.get(vid)
        if sample is None:
            report.add("missing file", str(folder / vid), where)
            continue
        cap_path = _caption_file(captions_dir, vid)
        if cap_path is None:
            report.add("missing captions", str(captions_dir / f"{vid}.vtt"), where)
            continue
        try:
            captions, empty = _read_captions(cap_path)
        except DataError as e:
            report.add("unreadable captions", str(cap_path), str(e))
            continue
        for _ in range(empty):
            report.add("empty caption", str(cap_path), "a cue without text")
        for start_s, end_s, text in captions:
            try:
                start, end = seconds_to_frames(start_s, end_s, fps)
            except ValueError as e:
                report.add("bad cue", str(cap_path), str(e))
                continue
            rows.append(ManifestRow(
                relative(sample, folder), start=start, end=end,
                extra={"text": text, "youtube_id": vid, "start_s": f"{start_s:g}",
                       "end_s": f"{end_s:g}"},
            ))
    return finish(rows, report, folder, ids_file, "the files must be named <youtube id>")
