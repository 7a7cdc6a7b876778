"""Money as integers in minor units, parsed from and shown as decimal strings.

No float ever touches an amount: parsing is string arithmetic, against the
currency's ISO 4217 exponent (EUR 2, JPY 0, BHD 3, ...).
"""

from __future__ import annotations

import re

from ssbmoney.core.errors import BadInput

# ISO 4217 minor-unit exponents that differ from 2, plus the common 2s for clarity.
_EXPONENTS: dict[str, int] = {
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    "CLF": 4, "UYW": 4,
}
MAX_JSON_INT = 2**53 - 1
"""The largest integer every JSON reader holds exactly (a float64's 53-bit mantissa)."""
MAX_AMOUNT = MAX_JSON_INT
"""The largest amount, in minor units (the contract: beyond 2^53-1 is bad input)."""
_MAX_AMOUNT_TEXT = 64
"""Longer amount text is refused before any conversion (``int()`` of more than 4,300
digits raises, and no valid amount comes near this length)."""

# Active ISO 4217 currency codes (funds and precious metals left out).
_KNOWN = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD
BTN BWP BYN BZD CAD CDF CHF CLF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR
IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD
MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR
PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL
SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYI UYU
UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
""".split())
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"^([0-9]+)(?:\.([0-9]+))?$", re.ASCII)


def check_currency(code: str) -> str:
    code = code.strip().upper()
    if not _CURRENCY.match(code) or code not in _KNOWN:
        raise BadInput(f"currency must be an ISO 4217 code such as EUR, not {code!r}")
    return code


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def _shown(text: str, limit: int = 40) -> str:
    """The input, quoted for a one-line message, cut short when long."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def parse_amount(text: str, currency: str) -> int:
    """``"12.50"`` in EUR → ``1250``. Refuses signs, too many decimals, zero, garbage,
    and more than ``MAX_AMOUNT`` minor units."""
    exp = exponent(currency)
    stripped = text.strip()
    if len(stripped) > _MAX_AMOUNT_TEXT:
        if _AMOUNT.match(stripped):
            raise BadInput(f"amount {_shown(text)} is too large: at most "
                           f"{format_amount(MAX_AMOUNT, currency)} {currency}")
        raise BadInput(f"amount must be a positive decimal number like 12.50, not {_shown(text)}")
    match = _AMOUNT.match(stripped)
    if not match:
        raise BadInput(f"amount must be a positive decimal number like 12.50, not {_shown(text)}")
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > exp:
        raise BadInput(
            f"amount {_shown(text)} has {len(frac)} decimals; {currency} has {exp}"
        )
    minor: int = int(whole) * 10**exp + (int(frac.ljust(exp, "0")) if exp else 0)
    if minor <= 0:
        raise BadInput(f"amount must be more than zero, not {_shown(text)}")
    if minor > MAX_AMOUNT:
        raise BadInput(f"amount {_shown(text)} is too large: at most "
                       f"{format_amount(MAX_AMOUNT, currency)} {currency}")
    return minor


def _digits(value: int) -> str:
    """``str(value)`` for a non-negative int of any size (``str`` refuses more than
    4,300 digits)."""
    if value.bit_length() < 10_000:
        return str(value)
    chunk = 10**1000
    parts: list[str] = []
    while value:
        value, low = divmod(value, chunk)
        parts.append(f"{low:01000d}" if value else str(low))
    return "".join(reversed(parts))


def format_amount(minor: int, currency: str) -> str:
    """``1250`` in EUR → ``"12.50"`` (negative amounts keep their sign)."""
    exp = exponent(currency)
    sign = "-" if minor < 0 else ""
    value = abs(minor)
    if exp == 0:
        return f"{sign}{_digits(value)}"
    return f"{sign}{_digits(value // 10**exp)}.{value % 10**exp:0{exp}d}"
