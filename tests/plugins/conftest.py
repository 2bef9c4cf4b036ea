"""Fixtures for the built-in plugins' tests.

``fake_server`` comes from the conformance kit, which registers itself with pytest (the
``pytest11`` entry point): the same as in a third-party plugin's tests, no import needed here.
"""
