"""Embedded, simulated demo data and its seeded generator."""

from pathlib import Path

__all__ = ["demo_config_path", "DATA_DIR"]

DATA_DIR = Path(__file__).resolve().parent / "data"
"""Folder of the shipped simulated demo data."""


def demo_config_path() -> Path:
    """Path of the bundled demo config (``evaluate/demo/demo.yaml``)."""
    return Path(__file__).resolve().parent / "demo.yaml"
