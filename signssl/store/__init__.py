"""Trained models on disk: export, load, hash, and how a model reads its clips.

Below both training (:mod:`signssl.engine`) and evaluation (:mod:`signssl.eval`): a model
is written by :func:`export_model` as ``model.safetensors`` + ``config.json`` and rebuilt by
:func:`load_model` without training code and without unpickling.

* :mod:`signssl.store.model`: export, load, sha256, a run's Lightning ``.ckpt``, the
  official-Hiera import;
* :mod:`signssl.store.spec`: :class:`DataSpec`, how the encoder reads clips (the part of
  ``config.json`` evaluation needs);
* :mod:`signssl.store.export`: a run as a self-describing folder with a model card
  (``signssl export``).

>>> from signssl.store import load_model, spec_of_run   # doctest: +SKIP
>>> encoder, spec = load_model("runs/slfpn"), spec_of_run("runs/slfpn")
"""

from signssl.store.export import ExportResult, export_run
from signssl.store.model import export_model, load_model, load_model_config, spec_of_run
from signssl.store.spec import DataSpec, spec_from_config, spec_of_config

__all__ = [
    "DataSpec",
    "ExportResult",
    "export_model",
    "export_run",
    "load_model",
    "load_model_config",
    "spec_from_config",
    "spec_of_config",
    "spec_of_run",
]
