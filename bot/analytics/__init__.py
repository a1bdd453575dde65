"""Analytics for marketers: Rasa's event stream projected into conversation facts (pipeline), save validation,
and the dashboard's aggregates. Plain logic; only the consumers talk to a broker."""
