"""Uploaded query files: received into a private temporary folder, typed by content,
embedded with the dictionary's encoder under a time limit.

The client's file name is never used: the upload is written as ``query<suffix>`` in a
fresh temporary folder, ``<suffix>`` sniffed from the first bytes
(:func:`signssl.serve.sniff.sniff`); the folder is removed when the work on it ends (also
when it ends after the time limit answered the client).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from signssl.errors import DataError, LayoutError, SignSSLError
from signssl.eval.query import QueryEncoder
from signssl.extract import extract_video
from signssl.extract.holistic import HolisticEstimator
from signssl.io import read_pose, write_pose
from signssl.io.video_probe import probe_video
from signssl.pose.sequence import PoseSequence
from signssl.serve.archive import INFLATE_FACTOR, declared_bytes
from signssl.serve.sniff import ACCEPTED, HEAD_BYTES, is_video, sniff

#: what to run when a pose dictionary gets a video and MediaPipe is missing
MEDIAPIPE_INSTALL = "pip install 'signssl[mediapipe]'"
CHUNK = 1 << 20


class UploadError(SignSSLError):
    """An upload the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass
class EmbeddedQuery:
    """One embedded upload: its vector ``(1, D)``, its keypoints when it has some, and the
    suffix its content was recognised as."""

    embedding: np.ndarray
    pose: PoseSequence | None
    kind: str


def receive(stream: IO[bytes], folder: Path, max_bytes: int) -> Path:
    """Copy ``stream`` into ``folder/query<sniffed suffix>``; refuse empty, oversize or
    unrecognised content (:class:`UploadError` 400 / 413 / 415)."""
    head = stream.read(HEAD_BYTES)
    if not head:
        raise UploadError(400, "the upload is empty: choose a file or record a clip first")
    suffix = sniff(head)
    if suffix is None:
        raise UploadError(415, f"the upload is not a file the dictionary can read; send {ACCEPTED}")
    path = folder / f"query{suffix}"
    size = len(head)
    with open(path, "wb") as out:
        out.write(head)
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise UploadError(413, too_large_message(max_bytes))
            out.write(chunk)
    if size > max_bytes:
        raise UploadError(413, too_large_message(max_bytes))
    return path


def check_declared_size(path: Path, max_bytes: int) -> None:
    """Refuse a ``.npz`` / parquet upload whose headers declare more than
    ``INFLATE_FACTOR * max_bytes`` inflated bytes (413), before any array is loaded."""
    try:
        size = declared_bytes(path, path.suffix)
    except DataError as e:
        raise UploadError(422, f"the upload {e}") from None
    limit = INFLATE_FACTOR * max_bytes
    if size > limit:
        raise UploadError(413, f"the {path.suffix} upload declares {size / 2**20:.3g} MB of arrays "
                               f"once inflated, more than the server's limit of "
                               f"{limit / 2**20:.3g} MB; send a shorter clip")


def check_video(path: Path) -> None:
    """Refuse a video that cannot be opened or has fewer packets than its header announces
    (422): demuxing only, no decoding."""
    try:
        probe_video(path, count=True)
    except DataError:
        raise UploadError(422, "the upload is not a readable video: it is corrupt, truncated "
                               "or not a video file; record or export it again") from None


def too_large_message(max_bytes: int) -> str:
    return (f"the upload is larger than the server's limit of {max_bytes / 2**20:.3g} MB; "
            "send a shorter clip (or start the server with a larger --max-upload-mb)")


def mediapipe_missing_message() -> str:
    return ("this dictionary was built from poses, so a video query needs its poses "
            "extracted by MediaPipe, which is not installed on the server: install it with  "
            f"{MEDIAPIPE_INSTALL}  (or upload a pose file instead)")


class QueryRunner:
    """Embeds uploads with the dictionary's encoder, one worker at a time per core given.

    Args:
        encoder: the dictionary's :class:`~signssl.eval.query.QueryEncoder`.
        timeout_s: seconds a decode + embed may take before the client is answered 504.
        workers: uploads processed at once.
    """

    def __init__(self, encoder: QueryEncoder, timeout_s: float = 30.0, workers: int = 2) -> None:
        self.encoder = encoder
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="signssl-query")

    def run(self, stream: IO[bytes], max_bytes: int) -> EmbeddedQuery:
        """Receive, sniff, decode and embed one upload; the temporary folder is removed."""
        folder = Path(tempfile.mkdtemp(prefix="signssl-serve-"))
        try:
            path = receive(stream, folder, max_bytes)
            check_declared_size(path, max_bytes)
            if is_video(path.suffix) and not self.encoder.video and not _has_mediapipe():
                raise UploadError(422, mediapipe_missing_message())
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self._with_timeout(lambda: self._embed(path), folder)

    def _with_timeout(self, job: Callable[[], EmbeddedQuery], folder: Path) -> EmbeddedQuery:
        future = self._pool.submit(job)
        future.add_done_callback(lambda _f: shutil.rmtree(folder, ignore_errors=True))
        try:
            return _result(future, self.timeout_s, folder)
        except FutureTimeout:
            future.cancel()
            raise UploadError(504, f"reading the upload took longer than {self.timeout_s:g} s; "
                                   "send a shorter clip") from None

    def _embed(self, path: Path) -> EmbeddedQuery:
        pose: PoseSequence | None = None
        query = path
        if is_video(path.suffix):
            check_video(path)
        if is_video(path.suffix) and not self.encoder.video:  # poses first, as extract-poses does

            pose = extract_video(path, HolisticEstimator())
            query = write_pose(pose, path.with_name("query.pose"))
        elif not is_video(path.suffix):
            pose = self._keypoints(path)
        feats = self.encoder.embed(query)
        return EmbeddedQuery(np.asarray(feats.features[:1], dtype=np.float32), pose, path.suffix)

    def _keypoints(self, path: Path) -> PoseSequence:
        """The keypoint upload read in the encoder's source layout (422 for another one)."""
        try:
            return read_pose(path, layout=self.encoder.spec.source_layout)
        except LayoutError as e:
            reason = _scrub(str(e), path.parent).removeprefix("the upload: ")
            raise UploadError(422, "the upload's keypoints are in a layout this dictionary "
                                   f"cannot read: {reason}") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _result(future: Future, timeout_s: float, folder: Path) -> Any:
    """The job's value; a library error has the temporary folder's path replaced by words."""
    try:
        return future.result(timeout=timeout_s)
    except SignSSLError as e:
        if isinstance(e, UploadError):
            raise
        raise UploadError(422, _scrub(str(e), folder)) from None
    except (FutureTimeout, KeyboardInterrupt):
        raise
    except Exception as e:  # a decoder failing on odd bytes: one line, never a traceback
        raise UploadError(422, "the upload could not be read: "
                               + _scrub(f"{type(e).__name__}: {e}", folder)) from None


def _scrub(message: str, folder: Path) -> str:
    """``message`` with the server's temporary paths replaced by ``the upload``."""
    for form in {str(folder.resolve()), str(folder)}:
        message = re.sub(re.escape(form) + r"(/[\w.]*)?", "the upload", message)
    return message.replace("the upload: is ", "the upload is ")


def _has_mediapipe() -> bool:
    return importlib.util.find_spec("mediapipe") is not None
