"""pending actions: the request they came from, who decided, the approval message, finish time"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pending_actions") as batch:
        # Ties the confirmation, approval and execution audit rows to the original request.
        batch.add_column(sa.Column("request_id", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("command", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("text", sa.Text, nullable=False, server_default=""))
        # Who cancelled, approved or rejected it (approved_by keeps only approvals).
        batch.add_column(sa.Column("decided_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("approval_ts", sa.String(32), nullable=True))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        # "awaiting_approval" does not fit in 16 characters.
        batch.alter_column(
            "status", type_=sa.String(24), existing_type=sa.String(16), existing_nullable=False
        )
    # The per-person rate limit counts a requester's recent rows.
    op.create_index("ix_pending_actions_requester_created", "pending_actions", ["requester", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_pending_actions_requester_created", table_name="pending_actions")
    with op.batch_alter_table("pending_actions") as batch:
        batch.alter_column(
            "status", type_=sa.String(16), existing_type=sa.String(24), existing_nullable=False
        )
        for name in ("finished_at", "approval_ts", "decided_by", "text", "command", "request_id"):
            batch.drop_column(name)
