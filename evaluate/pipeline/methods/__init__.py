"""The built-in analysis methods; importing this package registers them."""

from evaluate.pipeline.methods import describe, did, its, synth  # noqa: F401
