"""Retention assistant for German subscription businesses.

Everything that is not Rasa configuration lives here: settings, customer records,
retention rules, NLP components, the web app and the command line.
"""
