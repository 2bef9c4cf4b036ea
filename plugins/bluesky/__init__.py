"""The Bluesky network: posts records to an AT Protocol repository (a PDS) with an app password."""
