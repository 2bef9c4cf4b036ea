"""The module the ``kairos.publishers`` entry point names: hook implementations only."""

from kairos_example_network.network import PigeonNetwork
from publishers import hookimpl


@hookimpl
def register_networks():
    return [PigeonNetwork()]
