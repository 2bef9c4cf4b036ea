"""Connecting a channel with a button: the OAuth 2.0 authorisation-code flow, for any network
that declares one (``Network.oauth_app``).

* ``models`` - a flow in progress (single use, expiring in 10 minutes) and the clients Kairos
  registered on servers that need one per server (Mastodon instances).
* ``flow`` - starting a flow (state and PKCE verifier kept server-side) and finishing it (code
  exchange with Authlib, the account read, the channel created or updated, all or nothing).
* ``api`` - ``POST .../connections/`` to start, ``GET .../connections/<id>/`` to follow, and
  the public callback ``/connect/callback`` the network sends the person back to.
"""
