"""Personal-data protection: envelope field encryption and blind indexes (``crypto``), key
providers (``keys``), masking for logs and screens (``masking``), and the hash chain behind the
tamper-evident audit log (``chain``). See docs/concepts/privacy.md."""
