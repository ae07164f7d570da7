"""The pipeline: config -> sources -> validation -> panel -> analyses -> outputs."""
