"""What the assistant does with the records during a conversation, as plain functions.

Each operation takes a session and plain values and returns `Reply` objects (German text and
buttons) for the action layer to send; none of them knows about Rasa.
"""
