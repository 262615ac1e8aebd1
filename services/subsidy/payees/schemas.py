import uuid
from enum import StrEnum

from pydantic import Field

from services.kit.schemas import InputModel, Stored


class Relation(StrEnum):
    father = "father"  # 父亲
    mother = "mother"  # 母亲
    grandparent = "grandparent"  # (外)祖父母
    guardian = "guardian"  # 其他监护人
    self = "self"  # 本人 (a student of age with an own account)
    other = "other"


class AccountKind(StrEnum):
    bank_card = "bank_card"  # 银行卡
    one_card = "one_card"  # 社保卡 / 惠民惠农财政补贴资金“一卡通”


ACCOUNT = Field(
    min_length=10,
    max_length=40,
    description="`bank_card`: 16-19 digits with a Luhn check digit; `one_card`: 10-25 digits "
    "(no common check digit). Spaces and dashes are ignored. Stored encrypted; reads show it masked.",
    examples=["6228480402564890018"],
)


class PayeeCreate(InputModel):
    student_id: uuid.UUID
    guardian_name: str = Field(min_length=1, max_length=50, examples=["王建国"])
    relation: Relation
    account_kind: AccountKind
    account_number: str = ACCOUNT
    bank_name: str = Field(min_length=1, max_length=100, examples=["中国农业银行旬阳支行"])


class PayeeUpdate(InputModel):
    """A correction: only the fields given change; `version` (or If-Match) is required."""

    guardian_name: str | None = Field(default=None, min_length=1, max_length=50)
    relation: Relation | None = None
    account_kind: AccountKind | None = None
    account_number: str | None = Field(default=None, min_length=10, max_length=40)
    bank_name: str | None = Field(default=None, min_length=1, max_length=100)
    version: int | None = None


class PayeePublic(Stored):
    id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    area_code: str
    school_code: str | None
    village_code: str | None
    guardian_name: str
    relation: Relation
    account_kind: AccountKind
    account_masked: str = Field(description="First 6 and last 4 digits", examples=["622848*********0018"])
    account_number: str | None = Field(
        default=None, description="Only with `?reveal=account` (county and school users; audited)"
    )
    bank_name: str
    recorded_by: str


EXAMPLE = {
    "student_id": "0b6a1c2e-3f4d-4e5f-8a9b-0c1d2e3f4a5b",
    "guardian_name": "王建国",
    "relation": "father",
    "account_kind": "bank_card",
    "account_number": "6228480402564890018",
    "bank_name": "中国农业银行旬阳支行",
}
