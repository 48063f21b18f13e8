"""Per-value costs: encrypt + decrypt, and validation for each rule kind (microseconds)."""

from __future__ import annotations

import timeit

N = 20_000


def _per_call_us(fn, number: int = N) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def run() -> dict[str, float]:
    from configurations.core import crypto, validation

    ring = crypto.parse_keys(crypto.new_key_entry("bench"))
    row = {"environment": "production", "category": "smtp", "key": "auth_pass"}
    envelope = crypto.encrypt("app-password-1234", ring=ring, **row)
    figures = {
        "encrypt+decrypt 17 B (us)": _per_call_us(
            lambda: crypto.decrypt(crypto.encrypt("app-password-1234", ring=ring, **row), ring=ring, **row)
        ),
        "decrypt only (us)": _per_call_us(lambda: crypto.decrypt(envelope, ring=ring, **row)),
    }
    cases = {
        "required": ("x", {"required": True}, False),
        "minLength+maxLength": ("smtp.gmail.com", {"minLength": 1, "maxLength": 255}, False),
        "min+max (number)": ("587", {"min": 1, "max": 65535}, True),
        "options": ("true", {"options": ["true", "false"]}, False),
        "pattern": ("smtp.gmail.com", {"pattern": "^[a-zA-Z0-9.-]+$"}, False),
        "custom.emailValidation": ("someone@example.com", {"custom": {"emailValidation": True}}, False),
        "custom.domainValidation": ("smtp.gmail.com", {"custom": {"domainValidation": True}}, False),
    }
    for name, (value, rules, numeric) in cases.items():
        figures[f"validate {name} (us)"] = _per_call_us(
            lambda value=value, rules=rules, numeric=numeric: validation.problems(value, rules, numeric=numeric)
        )
    return figures
