"""Payee account numbers: the documented format rules, encryption at rest, the keyed hash, the mask.

Rules (`account_kind`):
- `bank_card` (银行卡, a debit card of any bank): 16–19 digits whose last digit is the Luhn check digit
  (ISO/IEC 7812, what every UnionPay card carries).
- `one_card` (社会保障卡 financial account or 惠民惠农财政补贴资金“一卡通”, often a rural credit union
  passbook account): 10–25 digits. These accounts carry no common check digit, so none is checked;
  a 16–19 digit number that is Luhn-valid is taken as is, one that is not is still accepted.
Spaces and dashes as printed on cards are ignored. Reads show the first 6 and last 4 digits only.
"""

import re

from stdnum import luhn
from stdnum.exceptions import ValidationError

from services.kit.crypto import id_cipher, mask_id_number
from services.kit.errors import Invalid
from services.kit.settings import get_settings

CONTEXT = b"payee_account"
_DIGITS = re.compile(r"[0-9]+")
_RANGES = {"bank_card": (16, 19), "one_card": (10, 25)}


def normalize(kind: str, number: str, loc: str = "account_number") -> str:
    """Return the account number's digits, or raise Invalid naming the rule it breaks."""
    digits = re.sub(r"[\s-]", "", number or "")
    low, high = _RANGES[kind]
    if not _DIGITS.fullmatch(digits) or not low <= len(digits) <= high:
        raise Invalid([loc], f"A {kind} account number has {low}-{high} digits", code="account_format")
    if kind == "bank_card":
        try:
            luhn.validate(digits)
        except ValidationError:
            msg = "The bank card number's check digit (Luhn) is wrong"
            raise Invalid([loc], msg, code="account_check") from None
    return digits


def mask(number: str) -> str:
    """First 6 and last 4 digits."""
    return mask_id_number(number)


def lookup_hash(number: str) -> str:
    """The keyed hash that finds an account (bank files) without its plaintext."""
    return id_cipher(get_settings()).lookup_hash(f"account:{number}")


def seal(number: str) -> tuple[bytes, str, str]:
    """Return (encrypted, keyed hash, masked) of an account number."""
    cipher = id_cipher(get_settings())
    return cipher.encrypt(number, CONTEXT), lookup_hash(number), mask(number)


def unseal(blob: bytes) -> str:
    """Return an account number (the audited reveal and the bank's payment file only)."""
    return id_cipher(get_settings()).decrypt(blob, CONTEXT)
