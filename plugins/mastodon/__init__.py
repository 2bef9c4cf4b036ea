"""The Mastodon network: posts statuses to any Mastodon instance through its REST API."""
