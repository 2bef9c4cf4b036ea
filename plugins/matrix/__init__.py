"""The Matrix network: posts to one room as a bot user, through the client-server API."""
