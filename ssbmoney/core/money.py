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
MAX_AMOUNT = 10**15
"""Far beyond any group's budget; keeps every sum well inside msgpack's integers."""

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


def parse_amount(text: str, currency: str) -> int:
    """``"12.50"`` in EUR → ``1250``. Refuses signs, too many decimals, zero, garbage."""
    exp = exponent(currency)
    match = _AMOUNT.match(text.strip())
    if not match:
        raise BadInput(f"amount must be a positive decimal number like 12.50, not {text!r}")
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > exp:
        raise BadInput(
            f"amount {text!r} has {len(frac)} decimals; {currency} has {exp}"
        )
    minor: int = int(whole) * 10**exp + (int(frac.ljust(exp, "0")) if exp else 0)
    if minor <= 0:
        raise BadInput(f"amount must be more than zero, not {text!r}")
    if minor > MAX_AMOUNT:
        raise BadInput(f"amount {text!r} is too large")
    return minor


def format_amount(minor: int, currency: str) -> str:
    """``1250`` in EUR → ``"12.50"`` (negative amounts keep their sign)."""
    exp = exponent(currency)
    sign = "-" if minor < 0 else ""
    value = abs(minor)
    if exp == 0:
        return f"{sign}{value}"
    return f"{sign}{value // 10**exp}.{value % 10**exp:0{exp}d}"
