"""The sandbox network: posts land in local JSON-lines files; engagement is simulated."""
