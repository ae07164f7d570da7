"""The built-in analysis methods; importing this package registers them."""

from evaluate.pipeline.methods import describe, did, its  # noqa: F401
