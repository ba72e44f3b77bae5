"""Datasets: manifests, dataset adapters, signer-independent splits, PyTorch datasets.

* :class:`Manifest` / :class:`ManifestRow`: the CSV listing samples (path, label,
  signer, split, frame range, extra columns);
* builders returning ``(Manifest, ItemReport)``: :func:`manifest_from_folder`
  (``ROOT/<gloss>/<sample>``), :func:`manifest_from_wlasl`,
  :func:`manifest_from_asl_citizen`, :func:`manifest_from_lsa64`, and one module per
  further corpus (``msasl``, ``autsl``, ``slr500``, ``nmfs_csl``, ``lsfb_isol``,
  ``how2sign``, ``youtube_asl``, ``gislr``; docs/datasets.md);
* :func:`signer_independent_split`;
* :class:`PoseDataset` + :func:`collate_poses` / :func:`pose_loader`: model batches;
* :func:`check_manifest`: read every sample, report the unusable ones.
"""

from signssl.data.asl_citizen import manifest_from_asl_citizen
from signssl.data.check import ManifestCheck, check_manifest
from signssl.data.collate import collate_poses, crop_indices, pose_loader
from signssl.data.dataset import PoseDataset
from signssl.data.folder import manifest_from_folder
from signssl.data.loading import SampleError
from signssl.data.lsa64 import manifest_from_lsa64, parse_lsa64_name
from signssl.data.manifest import (
    COLUMNS,
    KNOWN_SPLITS,
    Manifest,
    ManifestRow,
    class_index,
    drop_duplicates,
)
from signssl.data.report import ItemReport
from signssl.data.samples import POSE_EXTENSIONS, VIDEO_EXTENSIONS
from signssl.data.splits import (
    check_split_names,
    classes_missing_from,
    describe_splits,
    select_split,
    signer_independent_split,
    signer_overlap,
    split_warnings,
)
from signssl.data.wlasl import manifest_from_wlasl, wlasl_frame_range

__all__ = [
    "COLUMNS", "KNOWN_SPLITS", "POSE_EXTENSIONS", "VIDEO_EXTENSIONS", "ItemReport", "Manifest",
    "ManifestCheck", "ManifestRow", "PoseDataset", "SampleError", "check_manifest",
    "check_split_names", "class_index", "classes_missing_from", "collate_poses",
    "crop_indices", "describe_splits", "drop_duplicates", "manifest_from_asl_citizen",
    "manifest_from_folder", "manifest_from_lsa64", "manifest_from_wlasl", "parse_lsa64_name",
    "pose_loader", "select_split", "signer_independent_split", "signer_overlap",
    "split_warnings", "wlasl_frame_range",
]
