"""Kairos's domain: workspaces, brands, events, content, reactions, experiments and delivery."""
