"""The platform spec: model, defaults, validation, loading."""
