"""Take a PostgreSQL state store down and up again, the way an outage looks to the bot."""

from __future__ import annotations

from dataclasses import dataclass

from tests.conftest import _pg_admin


@dataclass
class StoreSwitch:
    url: str  # the store's SQLAlchemy URL (a throwaway database)

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[1]

    def down(self) -> None:
        """Refuse new connections and drop the open ones: every store call fails now."""
        with _pg_admin() as conn:
            conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (self.name,)
            )

    def up(self) -> None:
        with _pg_admin() as conn:
            conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')
