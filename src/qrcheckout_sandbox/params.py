"""Reading Stripe-style form parameters, each bad one refused with Stripe's error and ``param``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from qrcheckout_sandbox.objects import invalid, missing

MAX_AMOUNT = 99_999_999
# The presentment currencies Stripe supports.
_CURRENCY_CODES = """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp
    byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip
    gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt
    lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr
    nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd
    std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xcg xof xpf yer
    zar zmw
"""
CURRENCIES = frozenset(_CURRENCY_CODES.split())


def integer(
    params: dict[str, Any],
    name: str,
    *,
    low: int = 0,
    high: int = MAX_AMOUNT,
    required: bool = False,
    param: str | None = None,
) -> int | None:
    param = param or name
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(param)
        return None
    if isinstance(value, (dict, list)) or not str(value).lstrip("-").isdigit():
        raise invalid(param, f"Invalid integer: {value}")
    number = int(str(value))
    if not low <= number <= high:
        raise invalid(param, f"Invalid {param}: must be between {low} and {high}.")
    return number


def amount(params: dict[str, Any], name: str, *, required: bool = True, param: str = "") -> int:
    value = integer(params, name, low=0, required=required, param=param or name)
    return 0 if value is None else value


def boolean(params: dict[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise invalid(name, f"Invalid boolean: {value}")


def text(
    params: dict[str, Any], name: str, *, required: bool = False, param: str | None = None
) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(param or name)
        return None
    if not isinstance(value, str):
        raise invalid(param or name, f"Invalid string: {param or name}")
    return value


def choice(params: dict[str, Any], name: str, options: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in options:
        raise invalid(name, f"Invalid {name}: must be one of {', '.join(options)}")
    return str(value)


def currency(params: dict[str, Any], name: str = "currency", *, param: str = "") -> str:
    value = text(params, name, required=True, param=param or name)
    assert value is not None
    value = value.lower()
    if value not in CURRENCIES:
        raise invalid(
            param or name,
            f"Invalid currency: {value}. Stripe currently supports these currencies: "
            + ", ".join(sorted(CURRENCIES)),
        )
    return value


def metadata(params: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """New metadata: keys set are merged into ``current``; a key set to "" is removed."""
    value = params.get("metadata")
    merged = dict(current or {})
    if value is None:
        return merged
    if value == "":
        return {}
    if not isinstance(value, dict) or any(isinstance(v, (dict, list)) for v in value.values()):
        raise invalid("metadata", "Invalid hash")
    if len(value) > 50:
        raise invalid("metadata", "Metadata can have at most 50 keys.")
    for key, item in value.items():
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = str(item)
    return merged


def strings(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(name, f"Invalid array: {name}")
    return list(value)


def url(params: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = text(params, name, required=required)
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid(name, f"Not a valid URL: {name}")
    return value


def nested(params: dict[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid(name, f"Invalid hash: {name}")
    return value
