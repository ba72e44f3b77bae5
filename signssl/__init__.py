"""signssl: self-supervised sign-language representation learning."""

__version__ = "0.1.0"

from signssl.pose import PoseSequence, get_layout, list_layouts  # noqa: E402

__all__ = ["PoseSequence", "get_layout", "list_layouts", "__version__"]
