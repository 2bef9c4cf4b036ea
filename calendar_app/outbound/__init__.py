"""Outbound webhooks for integrators: the event catalogue, signing, sending and retries.

``events`` records what happened (:func:`~calendar_app.outbound.events.emit`), ``sender`` delivers
it (Standard Webhooks signatures from ``signing``), ``tasks`` are the django-q2 entry points,
``receivers`` turn life-cycle changes into events and ``plugin`` does the same for the
publication hooks of the plugin framework.
"""
