"""Derived harm measures: rates per population and the weighted harm index."""
