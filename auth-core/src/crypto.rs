//! Encryption at rest (feature `encryption`): XChaCha20-Poly1305 over credential payloads.
