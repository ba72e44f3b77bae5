"""Readers and writers for pose keypoint files.

=========  =====================================================  ==================
format     what                                                   module
=========  =====================================================  ==================
pose       ``.pose`` (pose-format), read and written              :mod:`.pose_file`
npy, npz   NumPy arrays; ``.npz`` written with layout, fps, conf  :mod:`.arrays`
mp_data    ``<root>/<gloss>/<seq>/<frame>.npy`` flat vectors      :mod:`.mp_data`
parquet    Kaggle ISLR long-format landmark files                 :mod:`.parquet`
openpose   OpenPose ``*_keypoints.json`` folders                  :mod:`.openpose`
=========  =====================================================  ==================

``read_pose(path, layout=None, fps=None)`` picks the reader with
:func:`detect_format`; ``write_pose(seq, path)`` writes ``.pose`` or ``.npz``
atomically; ``convert_tree`` converts a whole folder, skipping and counting bad items.  Bad input raises :class:`~signssl.errors.DataError` or
:class:`~signssl.errors.LayoutError` naming the file and the fix.
"""

from signssl.io.arrays import read_npy, read_npz, write_npz
from signssl.io.bulk import ConvertReport, convert_tree
from signssl.io.dispatch import FORMATS, detect_format, read_pose, write_pose
from signssl.io.info import pose_info, summarize
from signssl.io.mp_data import iter_mp_data, read_mp_data
from signssl.io.openpose import read_openpose
from signssl.io.parquet import read_parquet
from signssl.io.pose_file import read_pose_file, write_pose_file

__all__ = [
    "ConvertReport", "FORMATS", "convert_tree", "detect_format", "iter_mp_data", "pose_info", "read_mp_data", "read_npy",
    "read_npz", "read_openpose", "read_parquet", "read_pose", "read_pose_file", "summarize",
    "write_npz", "write_pose", "write_pose_file",
]
