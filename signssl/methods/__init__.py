"""Self-supervised recipes (docs/methods.md): ``create_method(name, encoder, **kwargs)``.

>>> from signssl.models import create_model
>>> from signssl.methods import create_method, list_methods
>>> method = create_method("sl_fpn", create_model("pose_transformer_test"))  # doctest: +SKIP
>>> out = method.training_loss(batch)        # {"loss", "embedding", terms}  # doctest: +SKIP
"""

from signssl.methods.base import Method, normalized_std
from signssl.methods.registry import create_method, list_methods, method_options, register_method

__all__ = [
    "Method",
    "create_method",
    "list_methods",
    "method_options",
    "normalized_std",
    "register_method",
]
