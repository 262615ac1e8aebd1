"""Test-only writer: real registry changes (enroll, update) through the registry's own service code.

    python -m tests.faults.writer --school 2161xxxxxx --county 61xxxx --changes 10000 --students 2000

Runs in its own process with the stack's NOL_* environment and connects as the
registry role, so every change goes through `enroll` / `update_student` and writes
its outbox event in the same transaction (the transactional outbox, unchanged).
Going below HTTP keeps 10,000 changes within seconds on two cores, and lets a few
transactions stay open for seconds after their event is written: the late-commit
gap (an outbox row with an early `created_at` that commits after later ones were
already published). Each worker owns its own students, so updates never race.
Prints `written <n>` at the end (changes committed).
"""

import argparse
import asyncio
import random
import uuid
from datetime import date, timedelta

from stdnum.cn import ric

from services.kit.auth import Principal, Role
from services.kit.db import make_engine, service_url, sessionmaker_for
from services.kit.settings import get_settings
from services.registry.students.schemas import StudentCreate, StudentUpdate
from services.registry.students.service import enroll, get_student_or_404, update_student

ADMIN = Principal(sub=str(uuid.uuid4()), username="fault-writer", role=Role.admin, area_code="61")
NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def id_number(county: str, i: int) -> str:
    """Return the i-th unique valid ID number of a county (birth date and sequence from i)."""
    birth = date(2016, 1, 1) + timedelta(days=i // 1000)
    body = f"{county}{birth:%Y%m%d}{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


async def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = make_engine(service_url(settings, "registry"), pool_size=args.concurrency + 2)
    maker = sessionmaker_for(engine)
    rng = random.Random(args.seed)
    per_worker = [args.changes // args.concurrency] * args.concurrency
    per_worker[0] += args.changes - sum(per_worker)
    students = [list(range(i, args.students, args.concurrency)) for i in range(args.concurrency)]
    written = 0

    async def change(create: int | None, student_id: uuid.UUID | None, long: float) -> uuid.UUID:
        async with maker() as session, session.begin():
            if create is not None:
                body = {
                    "name": rng.choice(NAMES) + "同学",
                    "id_number": id_number(args.county, create),
                    "enrollment": {"school_code": args.school, "stage": "primary", "grade": 1 + create % 6},
                }
                student = await enroll(session, ADMIN, data=StudentCreate.model_validate(body))
            else:
                student = await get_student_or_404(session, ADMIN, student_id)
                data = StudentUpdate(
                    name=rng.choice(NAMES) + f"同学{student.version}", version=student.version
                )
                student = await update_student(session, ADMIN, student=student, data=data, if_match=None)
            if long:
                await asyncio.sleep(long)  # the event is in the outbox; the commit comes late
            return student.id

    async def worker(w: int) -> None:
        nonlocal written
        todo, mine, made = per_worker[w], students[w], []
        for done in range(todo):
            creates_left = len(mine) - len(made)
            create = not made or rng.random() < creates_left / (todo - done)
            long = rng.uniform(1.0, 3.0) if rng.random() < args.long_share else 0.0
            if create and creates_left:
                made.append(await change(mine[len(made)], None, long))
            else:
                await change(None, rng.choice(made), long)
            written += 1

    await asyncio.gather(*(worker(w) for w in range(args.concurrency)))
    await engine.dispose()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--school", required=True)
    parser.add_argument("--county", required=True, help="6-digit code used as the ID numbers' place")
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--students", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--long-share", type=float, default=0.002, help="share of transactions held 1-3 s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"written {asyncio.run(run(args))}", flush=True)


if __name__ == "__main__":
    main()
