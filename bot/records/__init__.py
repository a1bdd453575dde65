"""Customer records: tables, the one way to get a database session, and queries."""
