"""signssl: self-supervised sign-language representation learning."""

__version__ = "0.1.0"

from signssl.pose import PoseSequence, get_layout, list_layouts  # noqa: E402

__all__ = ["PoseSequence", "get_layout", "list_layouts", "load_model", "__version__"]


def __getattr__(name: str):
    """``signssl.load_model`` (:func:`signssl.store.load_model`); lazy: ``import signssl``
    stays free of torch."""
    if name == "load_model":
        from signssl.store import load_model

        return load_model
    raise AttributeError(f"module 'signssl' has no attribute {name!r}")
