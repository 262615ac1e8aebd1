"""student numbers holding an ID number encrypted (registry.student.student_number_enc), masked in the clear

The 学籍号 defaulted to G + the ID number and was stored in plain text, so a dump held the ID
numbers. Each stored 学籍号 holding a checksum-valid ID number is encrypted into the new column
under the deployment's data key and masked in `student_number`; the others stay as they are.

Revision ID: c4a8e2f61d07
Revises: c41f7a2e9d05 (transfer requests; both were made on b7e1d40c9a11)
Create Date: 2026-12-09 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.crypto import id_cipher, id_numbers_in, mask_student_number
from services.kit.settings import get_settings

revision: str = "c4a8e2f61d07"
down_revision: str | None = "c41f7a2e9d05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTEXT = b"student_number"  # as services.registry.students.service.STUDENT_NUMBER
BATCH = 5000


def _batches(conn, query: str):
    """Yield (id, value) rows in id order, a batch at a time (keyset pages: no long cursor)."""
    last = None
    while True:
        rows = conn.execute(sa.text(query), {"last": last, "n": BATCH}).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def upgrade() -> None:
    op.add_column("student", sa.Column("student_number_enc", sa.LargeBinary(), nullable=True), schema="registry")
    conn = op.get_bind()
    cipher = None
    query = (
        "SELECT id, student_number FROM registry.student WHERE student_number ~ '[0-9]{17}[0-9Xx]'"
        " AND student_number_enc IS NULL AND (CAST(:last AS uuid) IS NULL OR id > :last) ORDER BY id LIMIT :n"
    )
    for rows in _batches(conn, query):
        changed = [(sid, number) for sid, number in rows if id_numbers_in(number)]
        if not changed:
            continue
        cipher = cipher or id_cipher(get_settings())
        conn.execute(
            sa.text("UPDATE registry.student SET student_number = :masked, student_number_enc = :enc WHERE id = :id"),
            [
                {"id": sid, "masked": mask_student_number(number), "enc": cipher.encrypt(number, CONTEXT)}
                for sid, number in changed
            ],
        )


def downgrade() -> None:
    conn = op.get_bind()
    cipher = None
    query = (
        "SELECT id, student_number_enc FROM registry.student WHERE student_number_enc IS NOT NULL"
        " AND (CAST(:last AS uuid) IS NULL OR id > :last) ORDER BY id LIMIT :n"
    )
    for rows in _batches(conn, query):
        cipher = cipher or id_cipher(get_settings())
        conn.execute(
            sa.text("UPDATE registry.student SET student_number = :plain WHERE id = :id"),
            [{"id": sid, "plain": cipher.decrypt(enc, CONTEXT)} for sid, enc in rows],
        )
    op.drop_column("student", "student_number_enc", schema="registry")
