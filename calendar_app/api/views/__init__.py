"""Views, one module per resource (names match ``serializers/``)."""
