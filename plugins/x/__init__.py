"""The X network (formerly Twitter): posts, media, threads, metrics through the X API v2."""
