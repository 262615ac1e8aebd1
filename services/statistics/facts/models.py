"""Projections: the statistics service's own copies of other services' facts, fed only by events."""

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from services.statistics.db import StatisticsModel


def _codes() -> Column:
    return Column(ARRAY(String(30)), nullable=False, server_default="{}")


class StudentFact(StatisticsModel, table=True):
    """A student's current state (from registry events; newer versions win)."""

    __tablename__ = "student_fact"

    student_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=50)
    gender: str | None = Field(default=None, max_length=6)
    birth_date: date | None = None
    id_number_hash: str | None = Field(default=None, max_length=64, index=True)
    id_number_masked: str | None = Field(default=None, max_length=18)
    household_id: uuid.UUID | None = Field(default=None, index=True)
    village_code: str | None = Field(default=None, max_length=12, index=True)
    area_code: str | None = Field(default=None, max_length=12, index=True)
    school_code: str | None = Field(default=None, max_length=10, index=True)
    stage: str | None = Field(default=None, max_length=20)
    grade: int | None = None
    compulsory: bool = Field(default=False, description="contracts.vocabulary.compulsory_stage(stage, grade)")
    boarding: bool = False
    status: str = Field(max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=_codes())
    groups: list[str] = Field(default_factory=list, sa_column=_codes())
    out_of_county: dict | None = Field(default=None, sa_column=Column(JSONB))
    version: int
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class EnrollmentSpan(StatisticsModel, table=True):
    """A period during which a student's enrollment stayed the same (for figures by semester)."""

    __tablename__ = "enrollment_span"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    student_id: uuid.UUID = Field(index=True)
    valid_from: date
    valid_to: date | None = None
    area_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    stage: str | None = Field(default=None, max_length=20)
    grade: int | None = None
    compulsory: bool = Field(default=False, description="contracts.vocabulary.compulsory_stage(stage, grade)")
    status: str = Field(max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=_codes())


class HouseholdFact(StatisticsModel, table=True):
    __tablename__ = "household_fact"

    household_id: uuid.UUID = Field(primary_key=True)
    platform_id: str | None = Field(default=None, max_length=40, index=True)
    head_name: str = Field(max_length=50)
    area_code: str = Field(max_length=12, index=True)
    statuses: list[dict] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    version: int


class PaymentFact(StatisticsModel, table=True):
    """One disbursement line (from subsidy events); only `paid` ones count in figures."""

    __tablename__ = "payment_fact"

    disbursement_id: uuid.UUID = Field(primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    household_id: uuid.UUID | None = None
    policy_code: str = Field(max_length=40)
    policy_kind: str = Field(max_length=20)
    semester: str = Field(max_length=12, index=True)
    year: int = Field(index=True)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    school_code: str | None = Field(default=None, max_length=10)
    area_code: str | None = Field(default=None, max_length=12, index=True)
    village_code: str | None = Field(default=None, max_length=12)
    stage: str | None = Field(default=None, max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=_codes())
    status: str = Field(max_length=20)
    paid_on: date | None = None
    version: int = 0
    shares: dict | None = Field(
        default=None,
        sa_column=Column(JSONB),
        description="Fen per funding share (central, provincial, county)",
    )
    hardship_level: str | None = Field(default=None, max_length=20)
    repays_id: uuid.UUID | None = Field(default=None, description="The failed line this line pays again")
    failure_reason: str | None = Field(default=None, max_length=200)


class CaseFact(StatisticsModel, table=True):
    """A dropout case's current state (from dropout events)."""

    __tablename__ = "case_fact"

    case_id: uuid.UUID = Field(primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    area_code: str | None = Field(default=None, max_length=12, index=True)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    stage: str | None = Field(default=None, max_length=20)
    compulsory: bool = True
    status: str = Field(max_length=20)
    reason_group: str | None = Field(default=None, max_length=20)
    outcome: str | None = Field(default=None, max_length=20)
    opened_on: date
    year: int = Field(index=True)
    closed_on: date | None = None
    confirmed_on: date | None = None
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ArrivalFact(StatisticsModel, table=True):
    """A start-of-semester check result for one student (from dropout events)."""

    __tablename__ = "arrival_fact"

    verification_id: uuid.UUID = Field(primary_key=True)
    student_id: uuid.UUID = Field(primary_key=True)
    semester: str = Field(max_length=12, index=True)
    year: int
    area_code: str | None = Field(default=None, max_length=12, index=True)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    arrived: bool | None = None
    reason: str | None = Field(default=None, max_length=40)


class PlacementFact(StatisticsModel, table=True):
    """A disabled child's placement for a year (from dropout events)."""

    __tablename__ = "placement_fact"

    student_id: uuid.UUID = Field(primary_key=True)
    year: int = Field(primary_key=True)
    placement: str = Field(max_length=20)
    area_code: str | None = Field(default=None, max_length=12, index=True)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)


class YearLock(StatisticsModel, table=True):
    """A year whose figures are final for an area (and everything below it)."""

    __tablename__ = "year_lock"

    year: int = Field(primary_key=True)
    area_code: str = Field(primary_key=True, max_length=12)
    locked_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=100)


class LockedFigure(StatisticsModel, table=True):
    """A figure of a locked year, frozen at lock time."""

    __tablename__ = "locked_figure"

    year: int = Field(primary_key=True)
    figure: str = Field(primary_key=True, max_length=20)
    scope: str = Field(primary_key=True, max_length=30, description="area code or school:<code>")
    period: str = Field(primary_key=True, max_length=12, description="semester or '' for the year")
    payload: dict = Field(sa_column=Column(JSONB, nullable=False))


class HeldEvent(StatisticsModel, table=True):
    """An event about a locked year: kept aside and listed, never silently applied."""

    __tablename__ = "held_event"

    event_id: uuid.UUID = Field(primary_key=True)
    type: str = Field(max_length=120)
    year: int = Field(index=True)
    area_code: str | None = Field(default=None, max_length=12)
    payload: dict = Field(sa_column=Column(JSONB, nullable=False))
    held_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CheckFact(StatisticsModel, table=True):
    """A start-of-semester check (开学核查) of one school: how many students it expects."""

    __tablename__ = "check_fact"

    verification_id: uuid.UUID = Field(primary_key=True)
    semester: str = Field(max_length=12, index=True)
    year: int
    school_code: str = Field(max_length=10)
    area_code: str = Field(max_length=12, index=True)
    expected: int


class LoanFact(StatisticsModel, table=True):
    """A student loan (国家助学贷款 / 生源地信用助学贷款) recorded by the subsidy service."""

    __tablename__ = "loan_fact"

    loan_id: uuid.UUID = Field(primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    year: int = Field(index=True)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    lender: str | None = Field(default=None, max_length=100)
    loan_kind: str | None = Field(default=None, max_length=30)
    repayment_status: str | None = Field(default=None, max_length=20)
    area_code: str | None = Field(default=None, max_length=12, index=True)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    stage: str | None = Field(default=None, max_length=20)
    cancelled: bool = False
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AidElsewhereFact(StatisticsModel, table=True):
    """Aid paid for one of our children by another county or province (区域外资助), by semester."""

    __tablename__ = "aid_elsewhere_fact"

    record_id: uuid.UUID = Field(primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    semester: str = Field(max_length=12, index=True)
    year: int
    policy_kind: str | None = Field(default=None, max_length=20)
    amount_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    payer: str | None = Field(default=None, max_length=100)
    area_code: str | None = Field(default=None, max_length=12, index=True)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    cancelled: bool = False
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class NoticeFact(StatisticsModel, table=True):
    """A notice (告知书) the parents acknowledged: one per student and semester (告知率)."""

    __tablename__ = "notice_fact"

    student_id: uuid.UUID = Field(primary_key=True)
    semester: str = Field(primary_key=True, max_length=12)
    acknowledged_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    area_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)


class PolicyFact(StatisticsModel, table=True):
    """A subsidy policy (reference data): which children it makes eligible in which semesters."""

    __tablename__ = "policy_fact"

    policy_id: uuid.UUID = Field(primary_key=True)
    code: str = Field(max_length=40)
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    kind: str = Field(max_length=20)
    stages: list[str] = Field(default_factory=list, sa_column=_codes())
    categories: list[str] = Field(default_factory=list, sa_column=_codes())
    boarding_only: bool = False
    non_boarders_only: bool = False
    terms: dict = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default="{}"),
        description="`years` and dated `rules` as the policy event carried them",
    )
    area_code: str = Field(max_length=12)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class HardshipFact(StatisticsModel, table=True):
    """A hardship identification (家庭经济困难学生认定) of one child for one school year; it counts once
    `approved` (by the county)."""

    __tablename__ = "hardship_fact"
    __table_args__ = (Index("ix_hardship_fact_student_id", "student_id", "school_year"),)

    hardship_id: uuid.UUID = Field(primary_key=True)
    student_id: uuid.UUID
    school_year: int = Field(description="By its autumn year (2024 = 2024-2025)")
    level: str = Field(max_length=20)
    status: str = Field(max_length=20)
    area_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


# Rollups (migration a17r00000001): kept by triggers on payment_fact and student_fact in the same
# transaction as the facts; read by services/statistics/figures/rollups.py.


def _list(length: int) -> Column:
    return Column(ARRAY(String(length)), nullable=False)


class PaymentCell(StatisticsModel, table=True):
    """Paid lines summed by year, semester, place, policy kind and hardship level (exact fen)."""

    __tablename__ = "payment_cell"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    year: int
    semester: str = Field(max_length=12)
    area_code: str | None = Field(default=None, max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    stage: str | None = Field(default=None, max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=_codes())
    policy_kind: str | None = Field(default=None, max_length=20)
    hardship_level: str | None = Field(default=None, max_length=20)
    lines: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    central_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    provincial_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    county_fen: int = Field(sa_column=Column(BigInteger, nullable=False))


class PaymentMember(StatisticsModel, table=True):
    """A student paid in a year at one place (and household); `sole`: its only place that year.

    Its signature: semesters (1 spring, 2 autumn), policy kinds and hardship levels, for the year and
    for each semester."""

    __tablename__ = "payment_member"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    year: int
    area_code: str | None = Field(default=None, max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    stage: str | None = Field(default=None, max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=_codes())
    sems: int
    kinds: list[str] = Field(default_factory=list, sa_column=_list(20))
    kinds_spring: list[str] = Field(default_factory=list, sa_column=_list(20))
    kinds_autumn: list[str] = Field(default_factory=list, sa_column=_list(20))
    levels: list[str] = Field(default_factory=list, sa_column=_list(20))
    levels_spring: list[str] = Field(default_factory=list, sa_column=_list(20))
    levels_autumn: list[str] = Field(default_factory=list, sa_column=_list(20))
    student_id: uuid.UUID
    household_id: uuid.UUID | None = None
    sole: bool


class PaymentPerson(StatisticsModel, table=True):
    """Sole members counted by place and signature."""

    __tablename__ = "payment_person"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    year: int
    area_code: str | None = Field(default=None, max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    stage: str | None = Field(default=None, max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=_codes())
    sems: int
    kinds: list[str] = Field(default_factory=list, sa_column=_list(20))
    kinds_spring: list[str] = Field(default_factory=list, sa_column=_list(20))
    kinds_autumn: list[str] = Field(default_factory=list, sa_column=_list(20))
    levels: list[str] = Field(default_factory=list, sa_column=_list(20))
    levels_spring: list[str] = Field(default_factory=list, sa_column=_list(20))
    levels_autumn: list[str] = Field(default_factory=list, sa_column=_list(20))
    students: int = Field(sa_column=Column(BigInteger, nullable=False))


class PaymentHousehold(StatisticsModel, table=True):
    """A household paid in a year: its semesters, and the common prefix of its members' codes."""

    __tablename__ = "payment_household"

    year: int = Field(primary_key=True)
    household_id: uuid.UUID = Field(primary_key=True)
    area_code: str = Field(max_length=12)
    village_code: str = Field(max_length=12)
    sems: int


class EnrollmentCell(StatisticsModel, table=True):
    """Students at school now (enrolled or home-taught) by place and compulsory flag."""

    __tablename__ = "enrollment_cell"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    area_code: str | None = Field(default=None, max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    stage: str | None = Field(default=None, max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=_codes())
    compulsory: bool
    students: int = Field(sa_column=Column(BigInteger, nullable=False))


class EnrollmentHousehold(StatisticsModel, table=True):
    """A household with a child of some category at school now: the union of its children's categories
    and the common prefix of their codes."""

    __tablename__ = "enrollment_household"

    household_id: uuid.UUID = Field(primary_key=True)
    area_code: str = Field(max_length=12)
    village_code: str = Field(max_length=12)
    categories: list[str] = Field(default_factory=list, sa_column=_codes())
