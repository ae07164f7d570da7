"""Estimators: functions on DataFrames that return :class:`evaluate.results.EffectResult`.

Estimators never read files and never see the config; the pipeline builds their inputs.
"""
