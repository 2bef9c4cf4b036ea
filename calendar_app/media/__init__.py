"""Media: pictures and videos a workspace uploads once and attaches to posts.

Kairos keeps the file (Django's default storage: local files by default, any storage backend in
production), knows its type, size and checksum from the bytes themselves, and serves it to the
networks at an unguessable public address. Items refer to media by asset id (or, for media kept
elsewhere, by URL); the delivery turns each reference into a :class:`publishers.MediaRef`.

* ``models`` - :class:`MediaAsset`.
* ``ingest`` - checking and storing an upload (type sniffed from the bytes, size capped).
* ``refs`` - item media entries: their shape, their validation, their ``MediaRef``.
* ``api`` / ``views`` / ``admin`` - the REST resource, the public file address, the admin page.
"""
