"""The validation engine: each rule at its boundaries, rule-set checks, and bounded patterns."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError

from configurations.core.validation import check_rules, is_host, problems
from configurations.models import ConfigurationMetadata


def rules_broken(value, rules, *, numeric=False, required=False):
    return [p.rule for p in problems(value, rules, numeric=numeric, required=required)]


@pytest.mark.parametrize(
    ("value", "rules", "numeric", "broken"),
    [
        ("", {"required": True}, False, ["required"]),
        (None, {"required": True}, False, ["required"]),
        ("x", {"required": True}, False, []),
        ("", {"minLength": 3}, False, []),  # empty and optional: other rules do not apply
        ("ab", {"minLength": 3}, False, ["minLength"]),
        ("abc", {"minLength": 3}, False, []),
        ("abc", {"maxLength": 3}, False, []),
        ("abcd", {"maxLength": 3}, False, ["maxLength"]),
        ("äöü", {"maxLength": 3}, False, []),  # characters, not bytes
        ("0", {"min": 1}, True, ["min"]),
        ("1", {"min": 1}, True, []),
        ("65535", {"max": 65535}, True, []),
        ("65536", {"max": 65535}, True, ["max"]),
        ("0.5", {"min": 0.5}, True, []),
        ("0.49", {"min": 0.5}, True, ["min"]),
        ("-1", {"min": -1}, True, []),
        ("abc", {"min": 1}, True, ["number"]),
        ("1e3", {}, True, ["number"]),
        ("5", {"min": 10}, False, []),  # min/max concern numeric keys only
        ("true", {"options": ["true", "false"]}, False, []),
        ("yes", {"options": ["true", "false"]}, False, ["options"]),
        ("587", {"options": [25, 587]}, False, []),
        ("true", {"options": [True, False]}, False, []),
        ("smtp.gmail.com", {"pattern": "^[a-zA-Z0-9.-]+$"}, False, []),
        ("smtp gmail", {"pattern": "^[a-zA-Z0-9.-]+$"}, False, ["pattern"]),
        ("xxabcxx", {"pattern": "abc"}, False, []),  # search, as PostgreSQL's ~
        ("a\n", {"pattern": "^a$"}, False, ["pattern"]),  # $ is the end of the value only
        ("a\nb", {"pattern": "^a.b$"}, False, []),  # . matches any character
        ("a$", {"pattern": "^a[$]$"}, False, []),
        ("user@example.com", {"custom": {"emailValidation": True}}, False, []),
        ("not-an-email", {"custom": {"emailValidation": True}}, False, ["custom.emailValidation"]),
        ("smtp.gmail.com", {"custom": {"domainValidation": True}}, False, []),
        ("localhost", {"custom": {"domainValidation": True}}, False, []),
        ("192.168.1.10", {"custom": {"domainValidation": True}}, False, []),
        ("2001:db8::1", {"custom": {"domainValidation": True}}, False, []),
        ("bad_host!", {"custom": {"domainValidation": True}}, False, ["custom.domainValidation"]),
        ("ab", {"minLength": 3, "pattern": "^[0-9]+$"}, False, ["minLength", "pattern"]),  # every problem
    ],
)
def test_rule_boundaries(value, rules, numeric, broken):
    assert rules_broken(value, rules, numeric=numeric) == broken


def test_required_column_makes_a_value_required():
    assert rules_broken("", {}, required=True) == ["required"]


def test_shipped_host_metadata_accepts_hosts_and_ips():
    rules = {"required": True, "pattern": "^[a-zA-Z0-9.-]+$", "minLength": 1, "maxLength": 255}
    for host in ["smtp.gmail.com", "localhost", "10.0.0.5", "mail-1.example.org"]:
        assert rules_broken(host, rules) == []


@pytest.mark.parametrize(
    ("host", "ok"),
    [("a" * 63 + ".com", True), ("a" * 64 + ".com", False), ("-bad.com", False), ("ok.", True), ("", False)],
)
def test_host_names(host, ok):
    assert is_host(host) is ok


def test_catastrophic_pattern_fails_within_a_second():
    start = time.perf_counter()
    found = problems("a" * 60 + "b", {"pattern": "^(a|aa)+$"}, numeric=False)
    elapsed = time.perf_counter() - start
    assert [p.rule for p in found] == ["pattern"]
    assert elapsed < 1.0


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"maxLenght": 5}, "unknown rule 'maxLenght'"),
        ({"pattern": "(unclosed"}, "does not compile"),
        ({"pattern": "x" * 501}, "longer than 500"),
        ({"min": 10, "max": 1}, "'min' (10) is greater than 'max' (1)"),
        ({"minLength": 5, "maxLength": 2}, "'minLength' (5) is greater than 'maxLength' (2)"),
        ({"minLength": -1}, "'minLength' must be a whole number"),
        ({"maxLength": "10"}, "'maxLength' must be a whole number"),
        ({"min": "ten"}, "'min' must be a number"),
        ({"required": "yes"}, "'required' must be true or false"),
        ({"options": "a,b"}, "'options' must be a list"),
        ({"options": [1.5]}, "'options' must be a list"),
        ({"custom": {"emailValidaton": True}}, "unknown custom rule 'emailValidaton'"),
        ({"custom": {"emailValidation": "yes"}}, "'custom.emailValidation' must be true or false"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_rule_sets_are_rejected(rules, message):
    errors = check_rules(rules)
    assert any(message in e for e in errors), errors


def test_select_needs_options():
    assert any("needs a non-empty 'options'" in e for e in check_rules({}, input_type="select"))
    assert check_rules({"options": ["a"]}, input_type="radio") == []


def test_good_rule_sets_pass():
    assert check_rules(None) == []
    assert check_rules({"required": True, "min": 1, "max": 65535, "custom": {"domainValidation": True}}) == []


@pytest.mark.django_db
def test_metadata_with_a_typo_cannot_be_saved():
    meta = ConfigurationMetadata(
        category="app", config_key="name", display_name="Name", validation_rules={"maxLenght": 5}
    )
    with pytest.raises(ValidationError) as error:
        meta.save()
    assert "unknown rule 'maxLenght'" in str(error.value.message_dict["validation_rules"])
    assert not ConfigurationMetadata.objects.filter(category="app", config_key="name").exists()


@pytest.mark.django_db
def test_metadata_default_must_obey_its_rules():
    meta = ConfigurationMetadata(
        category="app",
        config_key="port",
        display_name="Port",
        input_type="number",
        validation_rules={"min": 1, "max": 10},
        default_value="99",
    )
    with pytest.raises(ValidationError, match=r"The default must be at most 10 \(rule max\)"):
        meta.save()


@pytest.mark.django_db
def test_shipped_metadata_rules_are_valid():
    for meta in ConfigurationMetadata.objects.all():
        assert check_rules(meta.validation_rules, input_type=meta.input_type) == [], meta


@pytest.mark.postgres
@pytest.mark.django_db
def test_pattern_must_also_be_valid_for_postgresql():
    # A named group compiles in Python but not in PostgreSQL's regex dialect.
    meta = ConfigurationMetadata(
        category="app", config_key="p", display_name="P", validation_rules={"pattern": "(?P<n>a)"}
    )
    with pytest.raises(ValidationError, match="not valid in PostgreSQL"):
        meta.save()
