"""Retention rules: when a cancellation takes effect, and which single offer fits a customer."""
