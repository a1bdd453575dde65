"""Data protection: masking personal data for marketers, retention periods, erasure and audit exports."""
