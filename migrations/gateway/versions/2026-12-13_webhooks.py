"""webhooks: platform clients' webhooks and their delivery log; secret rotation; the feed's dead letters

Revision ID: a19w00000009
Revises: a16g00000008
Create Date: 2026-12-13 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a19w00000009"
down_revision: str | None = "a16g00000008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
S = "gateway"


def upgrade() -> None:
    # Secret rotation with overlap, and the bcrypt hash the platform broker checks (NATS password).
    op.add_column("api_client", sa.Column("previous_secret_hash", sa.String(64)), schema=S)
    op.add_column("api_client", sa.Column("previous_secret_until", sa.DateTime(timezone=True)), schema=S)
    op.add_column("api_client", sa.Column("nats_password_hash", sa.String(80)), schema=S)
    op.create_table(
        "webhook",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(120)), nullable=False),
        sa.Column("area_code", sa.String(12), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook")),
        sa.ForeignKeyConstraint(
            ["client_id"], [f"{S}.api_client.client_id"], name=op.f("fk_webhook_client_id_api_client")
        ),
        schema=S,
    )
    op.create_index(op.f("ix_webhook_client_id"), "webhook", ["client_id"], schema=S)
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        # pending → delivered, or failed after the last attempt
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint("webhook_id", "event_id", name=op.f("uq_webhook_delivery_webhook_id")),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            [f"{S}.webhook.id"],
            ondelete="CASCADE",
            name=op.f("fk_webhook_delivery_webhook_id_webhook"),
        ),
        schema=S,
    )
    op.create_index(
        "ix_webhook_delivery_due",
        "webhook_delivery",
        ["next_attempt_at"],
        schema=S,
        postgresql_where=sa.text("status = 'pending'"),
    )
    # The platform feed is a durable consumer: events it could not read are kept, as every consumer does.
    op.execute(
        f"""CREATE TABLE {S}.dead_letter (
            id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_dead_letter PRIMARY KEY,
            consumer varchar(64) NOT NULL, event_id uuid, type varchar(120), subject varchar(200) NOT NULL,
            stream_seq bigint, payload text NOT NULL, error text NOT NULL, attempts integer NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'open',
            created_at timestamptz NOT NULL DEFAULT now(), resolved_at timestamptz,
            resolved_by varchar(120), note text)"""
    )
    op.execute(f"CREATE INDEX ix_dead_letter_open ON {S}.dead_letter (consumer) WHERE status = 'open'")


def downgrade() -> None:
    op.drop_table("dead_letter", schema=S)
    op.drop_table("webhook_delivery", schema=S)
    op.drop_table("webhook", schema=S)
    op.drop_column("api_client", "nats_password_hash", schema=S)
    op.drop_column("api_client", "previous_secret_until", schema=S)
    op.drop_column("api_client", "previous_secret_hash", schema=S)
