"""Meta's networks on the Graph API: Facebook Pages and Instagram business accounts."""
