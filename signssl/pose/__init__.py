"""Pose data model: layouts, sequences, normalisation."""

from signssl.pose.layouts import Layout, Part, get_layout, list_layouts, load_layout_yaml
from signssl.pose.normalize import normalize_hands, normalize_image, normalize_shoulders
from signssl.pose.sequence import PoseSequence, sanitize

__all__ = [
    "Layout", "Part", "PoseSequence", "get_layout", "list_layouts", "load_layout_yaml",
    "normalize_hands", "normalize_image", "normalize_shoulders", "sanitize",
]
