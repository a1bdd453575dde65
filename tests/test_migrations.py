"""The migrations build exactly the schema the models describe, on both backends."""
from bot.records.migrations import schema_differences


def test_migrations_match_models(fresh_database_url: str) -> None:
    assert schema_differences(fresh_database_url) == []
