"""The built-in analysis methods; importing this package registers them."""

from evaluate.pipeline.methods import describe, its  # noqa: F401
