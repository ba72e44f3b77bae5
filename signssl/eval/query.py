"""Embed one query sign as a dictionary was built: the path `signssl retrieve` and
`signssl serve` share.

A :class:`QueryEncoder` is made once per dictionary (the encoder is built once) and embeds
any number of query files, each exactly as :func:`signssl.eval.pipeline.embed_manifest`
embedded the dictionary's entries: whole clips for pose encoders, or pooled sliding
windows (same mode, window and stride) when the dictionary holds pooled vectors.

>>> from signssl.eval.retrieval import Dictionary        # doctest: +SKIP
>>> d = Dictionary.load("dict.safetensors")               # doctest: +SKIP
>>> q = QueryEncoder(d.info)                              # doctest: +SKIP
>>> d.search(q.embed(Path("sign.pose")).features, k=5)    # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signssl.data import Manifest, ManifestRow
from signssl.eval.features import Features
from signssl.eval.pipeline import (
    EncoderSpec,
    check_query,
    embed_dataset,
    open_dataset,
    reads_video,
    windowed_features,
)


class QueryEncoder:
    """The encoder a dictionary was built with, ready to embed query files.

    Args:
        info: the dictionary's ``info`` (its ``encoder`` and optional ``pooling``).
        source_layout: layout of flat-vector query files (MP_Data, ``(T, D)`` arrays).
    """

    def __init__(self, info: dict[str, Any], source_layout: str | None = None) -> None:
        self.spec = EncoderSpec.from_info(info, source_layout=source_layout)
        self.encoder = self.spec.build()
        self.pooling: dict[str, Any] | None = info.get("pooling") or None
        self.video = reads_video(self.spec, self.encoder)  # True: queries are videos

    def embed(self, query: Path) -> Features:
        """Features ``(1, D)`` of one query file or sequence folder.

        Raises:
            DataError: the query is missing, of the wrong kind for this encoder (a video
                for a pose encoder or poses for a video encoder), or unreadable.
        """
        check_query(query, video=self.video)
        one = Manifest([ManifestRow(str(query.resolve()))])
        if self.pooling:  # windows pooled as in the dictionary
            p = self.pooling
            feats, _, _ = windowed_features(self.spec, self.encoder, one, None, p["mode"],
                                            p["window"], p["stride"], progress=False)  # fmt: skip
            return feats
        ds, _ = open_dataset(one, self.spec, progress=False)
        return embed_dataset(self.encoder, ds, self.spec, progress=False)
