"""Result objects and the results table: numbers only, no pictures and no files."""

from evaluate.results.effect import RESULT_COLUMNS, EffectResult, RowAccounting

__all__ = ["EffectResult", "RESULT_COLUMNS", "RowAccounting"]
