"""Encoders and heads behind one API and a registry."""

from signssl.models.base import Encoder
from signssl.models.registry import create_model, list_models, register_model

__all__ = ["Encoder", "create_model", "list_models", "register_model"]
