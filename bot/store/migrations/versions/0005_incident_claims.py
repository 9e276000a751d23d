"""incident reminder and escalation claims (a lease, so a crash mid-post is retried)"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("reminder_claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalation_claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("escalation_claimed_at")
        batch.drop_column("reminder_claimed_at")
