"""An example Kairos network plugin (the one ``docs/plugins.md`` walks through)."""

from kairos_example_network.network import PigeonNetwork

__all__ = ["PigeonNetwork"]
