"""Trained models on disk: export, load, hash, and how a model reads its clips.

Below both training (:mod:`signssl.engine`) and evaluation (:mod:`signssl.eval`): a model
is written by :func:`export_model` as ``model.safetensors`` + ``config.json`` and rebuilt by
:func:`load_model` without training code and without unpickling.

* :mod:`signssl.store.model`: export, load, sha256, a run's Lightning ``.ckpt``, the
  official-Hiera import;
* :mod:`signssl.store.spec`: :class:`ModelDescription`, the one typed description of a
  trained model (``config.json``), built by :func:`describe_pretraining`, and
  :class:`DataSpec`, how the encoder reads clips (the part evaluation needs);
* :mod:`signssl.store.export`: a run as a self-describing folder with a model card
  (``signssl export``).

>>> from signssl.store import load_described_model   # doctest: +SKIP
>>> encoder, description = load_described_model("runs/slfpn")
>>> spec = description.data_spec
"""

from signssl.store.export import ExportResult, export_run
from signssl.store.model import (
    StoredModel,
    export_model,
    load_described_model,
    load_model,
    load_model_config,
    open_model,
    spec_of_run,
    write_model,
)
from signssl.store.spec import (
    DataSpec,
    ModelDescription,
    describe_pretraining,
    spec_from_config,
    spec_of_config,
)

__all__ = [
    "DataSpec",
    "ExportResult",
    "ModelDescription",
    "StoredModel",
    "describe_pretraining",
    "export_model",
    "export_run",
    "load_described_model",
    "load_model",
    "load_model_config",
    "open_model",
    "spec_from_config",
    "spec_of_config",
    "spec_of_run",
    "write_model",
]
