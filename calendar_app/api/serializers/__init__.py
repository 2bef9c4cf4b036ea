"""Serializers, one module per resource (names match ``views/``)."""
