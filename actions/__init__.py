"""The rasa-sdk action server: thin actions that read slots, call into `bot`, and return events."""
