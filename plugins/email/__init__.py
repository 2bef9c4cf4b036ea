"""The email newsletter network: one message per subscriber of a list Kairos keeps, over SMTP.

* :mod:`.settings` - the channel's settings (sender identity, list, SMTP server, throttle).
* :mod:`.message` - the multipart message each recipient gets (HTML and plain text, the CTA of
  their variant, the unsubscribe headers of RFC 2369 and RFC 8058).
* :mod:`.smtp` - one SMTP session: connect, STARTTLS or implicit TLS, AUTH, and what each reply
  means for the recipient.
* :mod:`.network` - :class:`EmailNetwork`: walks the host's recipient ledger.
"""
