"""Evaluation configs: safe YAML loading, typed models, the JSON Schema."""

from evaluate.config.loader import LoadedConfig, config_json_schema, load_config, parse_config
from evaluate.config.models import EvaluationConfig

__all__ = ["EvaluationConfig", "LoadedConfig", "config_json_schema", "load_config", "parse_config"]
