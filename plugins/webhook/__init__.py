"""The webhook network: posts delivered as signed JSON over HTTP(S)."""
