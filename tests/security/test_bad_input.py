"""A corpus of bad input, tried on every write path: a clear error with its location, nothing written, fast.

Each case goes through the real path (the service, the editor over HTTP, import_configs with a real file, the
template action) and must: fail with a clear error naming where (the key, the field, the file and line or
path), change no row and no history row, finish in under a second, and, for imports, allocate under 100 MB.
"""

from __future__ import annotations

import functools
import json
import time
import tracemalloc
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from configurations import services
from configurations.models import ConfigurationHistory, ConfigurationTemplate, SystemConfiguration

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
BIG = 256 * 1024 + 1


def _state():
    return SystemConfiguration.objects.count(), ConfigurationHistory.objects.count()


class Budget:
    """Nothing written, and under a second."""

    def __enter__(self):
        self.before, self.start = _state(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        elapsed = time.perf_counter() - self.start
        assert _state() == self.before, "a refused input changed something"
        assert elapsed < 1.0, f"took {elapsed:.2f} s"
        return False


# ------------------------------------------------------------------------------------- services

SERVICE_CASES = [
    # (category, key, value, value_type, expected words in the error)
    ("smtp", "port", "9e999999999", None, "out of range"),
    ("smtp", "port", "9e9999999999", None, "out of range"),
    ("smtp", "port", "1" * 5000, None, "more than 100 significant digits"),
    ("smtp", "port", "-" + "9" * 200, None, "more than 100"),
    ("smtp", "port", "1e1001", None, "exponent"),
    ("smtp", "port", "NaN", None, "not a finite number"),
    ("smtp", "port", "Infinity", None, "not a finite number"),
    ("smtp", "port", "0x10", None, "not a number"),
    ("smtp", "port", "+587", None, "written with digits only"),
    ("smtp", "port", "1e2", None, "written with digits only"),
    ("smtp", "port", "587.0", None, "written with digits only"),
    ("smtp", "port", 587.0, None, "written with digits only"),
    ("smtp", "port", "12abc", None, "not a number"),
    ("smtp", "port", "99999", None, "at most 65535"),
    ("smtp", "port", "0", None, "at least 1"),
    ("smtp", "port", 10**200, None, "digits"),
    ("smtp", "host", "a" * BIG, None, "characters long"),
    ("smtp", "host", "a\x00b", None, "NUL"),
    ("smtp", "host", "\ud800", None, "lone surrogate"),
    ("smtp", "host", "bad host!", None, "SMTP Host may contain only letters, digits, dots and hyphens"),
    ("app", "doc", "[" * 100 + "]" * 100, "json", "nests deeper"),
    ("app", "doc", '{"a": 1, "a": 2}', "json", "twice"),
    ("app", "doc", "NaN", "json", "may not contain NaN"),
    ("app", "doc", "[1e999]", "json", "out of range"),
    ("app", "doc", "[" + "1" * 5000 + "]", "json", "more than 100 digits"),
    ("app", "doc", "[" + ",".join(["1"] * 140_000) + "]", "json", "characters long"),
    ("app", "doc", "{", "json", "not valid JSON"),
    ("app", "doc", {"deep": functools.reduce(lambda inner, _: [inner], range(40), 1)}, "json", "nests deeper"),
    ("app", "doc", ["x" * BIG], "json", "characters"),
    ("app", "doc", [10**400], "json", "digits"),
    ("app", "flag", "maybe", "boolean", "not a boolean"),
    ("app", "flag", "yes", "boolean", "not a boolean"),
    ("a/b", "k", "v", None, "category name 'a/b'"),
    ("", "k", "v", None, "category name is empty"),
    ("x" * 51, "k", "v", None, "the limit is 50"),
    ("app", "y" * 101, "v", None, "the limit is 100"),
    ("app", "has space", "v", None, "key name 'has space'"),
    ("app", "new\nline", "v", None, "key name"),
    ("app", "quote'd", "v", None, "key name"),
    ("app", "-leading", "v", None, "must start with a letter or a digit"),
    ("ünï", "k", "v", None, "category name"),
    ("app", "k", "v", "decimal", "Unknown value type"),
]  # fmt: skip


@pytest.mark.parametrize(("category", "key", "value", "value_type", "words"), SERVICE_CASES)
def test_services_refuse_bad_input_clearly(category, key, value, value_type, words):
    with Budget(), pytest.raises(ValidationError) as error:
        services.set_value(category=category, key=key, environment="test", value=value, value_type=value_type)
    message = " ".join(error.value.messages)
    assert words in message
    assert message.startswith(f"{category}.{key} [test]: ")  # the location comes first


def test_an_unknown_environment_is_named():
    with Budget(), pytest.raises(ValidationError, match=r"smtp.host \[qa\]: unknown environment"):
        services.set_value(category="smtp", key="host", environment="qa", value="h")


# ---------------------------------------------------------------------------------------- editor

EDITOR_CASES = [
    ("value__port", "9e999999999", "out of range"),
    ("value__port", "1" * 5000, "significant digits"),
    ("value__port", "1e1001", "exponent"),
    ("value__port", "NaN", "not a finite number"),
    ("value__port", "0x1F", "not a number"),
    ("value__port", "587.5.1", "not a number"),
    ("value__host", "a" * BIG, "characters long"),
    ("value__host", "a\x00b", "Null characters are not allowed"),
    ("value__host", "smtp example", "may contain only letters, digits, dots and hyphens"),
    ("value__auth_pass", "x" * BIG, "characters long"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "words"), EDITOR_CASES)
def test_the_editor_answers_bad_input_inline(admin_client, field, value, words):
    url = reverse("admin:configurations_category_edit", args=["smtp", "test"])
    version = admin_client.get(url).context["form"]["version"].value()
    data = {"version": version, "reason": "corpus", "value__host": "smtp.example.com", "value__port": "587"}
    data[field] = value
    with Budget():
        response = admin_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and words in " ".join(errors[field]), errors


# ---------------------------------------------------------------------------------------- import


IMPORT_CASES = [
    # (file name, content (str or bytes), expected words, the location expected in the message)
    ("deep.json", '{"test": {"app": {"k": ' + "[" * 5000 + "]" * 5000 + "}}}", "nests deeper", "deep.json"),
    ("bigint.json", '{"test": {"app": {"k": ' + "1" * 5000 + "}}}", "more than 100 digits", "bigint.json"),
    ("hugevalue.json", json.dumps({"test": {"app": {"k": list(range(400_000))}}}), "more than fit in", "$.test.app.k"),
    ("longtext.json", json.dumps({"test": {"app": {"k": "x" * BIG}}}), "characters long", "$.test.app.k"),
    ("utf8.json", b'{"test": {"app": {"k": "\xff\xfe"}}}', "not UTF-8", "utf8.json"),
    ("nul.json", '{"test": {"app": {"k": "a\\u0000b"}}}', "NUL", "$.test.app.k"),
    ("surrogate.json", '{"test": {"app": {"k": "\\ud800"}}}', "lone surrogate", "$.test.app.k"),
    ("slash.json", '{"test": {"x/y": {"k": "v"}}}', "category name 'x/y'", "$.test.x/y.k"),
    ("longkey.json", json.dumps({"test": {"app": {"k" * 101: "v"}}}), "the limit is 100", "$.test.app"),
    ("badport.json", '{"test": {"smtp": {"port": 9e999999999}}}', "out of range", "$.test.smtp.port"),
    ("nan.json", '{"test": {"smtp": {"port": NaN}}}', "not a finite number", "$.test.smtp.port"),
    ("dupe.json", '{"test": {"app": {"k": 1, "k": 2}}}', "appears twice", "dupe.json"),
    ("notjson.json", '{"test": ', "malformed JSON", "notjson.json:1"),
    ("env.json", '{"qa": {"app": {"k": "v"}}}', "unknown environment", "$.qa"),
    ("plaintext.json", '{"test": {"pay": {"api_key": {"value": "sk", "is_encrypted": false}}}}', "is a secret",
     "$.test.pay.api_key"),
    ("toobig.json", '{"test": {"app": {"k": "' + "x" * (10 * MiB) + '"}}}', "CONFIG_IMPORT_MAX_BYTES", "toobig.json"),
    ("bomb.yaml", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
     "test: {app: {k: *h}}\n", "aliases", "bomb.yaml:2"),
    ("deep.yaml", "test:\n  app:\n    k: " + "[" * 3000 + "]" * 3000 + "\n", "nests deeper", "deep.yaml:"),
    ("bigint.yaml", "test:\n  app:\n    k: " + "7" * 5000 + "\n", "more than 100 digits", "bigint.yaml:3"),
    ("python.yaml", "test:\n  app:\n    k: !!python/object/apply:os.system ['true']\n", "malformed YAML",
     "python.yaml:3"),
    ("dupe.yaml", "test:\n  app:\n    k: 1\n    k: 2\n", "appears twice", "dupe.yaml:4"),
    ("tabs.yaml", "test:\n\tapp: {}\n", "malformed YAML", "tabs.yaml:2"),
    ("inf.yaml", "test:\n  smtp:\n    port: .inf\n", "not a finite number", "$.test.smtp.port"),
    ("nul.yaml", 'test:\n  app:\n    k: "a\\0b"\n', "NUL", "$.test.app.k"),
    ("slash.yaml", "test:\n  a b:\n    k: v\n", "category name 'a b'", "$.test.a b.k"),
    ("nul.env", "SMTP_HOST=a\x00b\n", "NUL", "nul.env:1 (SMTP_HOST)"),
    ("name.env", "1SMTP_HOST=x\n", "expected NAME=value", "name.env:1"),
    ("quote.env", "SMTP_HOST='unterminated\n", "unterminated single-quoted value", "quote.env:1"),
    ("long.env", "SMTP_HOST=" + "h" * BIG + "\n", "characters long", "long.env:1 (SMTP_HOST)"),
    ("port.env", "SMTP_PORT=9e999999999\n", "out of range", "port.env:1 (SMTP_PORT)"),
    ("plus.env", "SMTP_PORT=+587\n", "written with digits only", "plus.env:1 (SMTP_PORT)"),
    ("exp.env", "SMTP_PORT=1e2\n", "written with digits only", "exp.env:1 (SMTP_PORT)"),
    ("annot.env", "#: category=a/b key=k type=string encrypted=false\nA_B_K=v\n", "category name 'a/b'", "annot.env:2"),
    ("badannot.env", "#: nonsense\nSMTP_HOST=x\n", "malformed annotation", "badannot.env:1"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "words", "where"), IMPORT_CASES, ids=[case[0] for case in IMPORT_CASES])
def test_imports_refuse_bad_files_clearly(tmp_path, name, content, words, where):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    args = ["--environment", "test"] if name.endswith(".env") else []
    with Budget(), pytest.raises(CommandError) as error:
        call_command("import_configs", str(path), *args, stdout=StringIO(), stderr=StringIO())
    message = str(error.value)
    assert words in message and where in message, message
    assert "Traceback" not in message
    # Memory, in a second run: tracing allocations slows Python several times, so it is not timed.
    tracemalloc.start()
    try:
        with pytest.raises(CommandError):
            call_command("import_configs", str(path), *args, stdout=StringIO(), stderr=StringIO())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * MiB, f"{peak / MiB:.0f} MiB"


# ------------------------------------------------------------------------------- template action

TEMPLATE_CASES = [
    ({"var__EMAIL_USER": "x" * BIG + "@gmail.com", "var__EMAIL_PASS": "abcd efgh ijkl mnop"}, "EMAIL_USER"),
    ({"var__EMAIL_USER": "a\x00b@gmail.com", "var__EMAIL_PASS": "abcd efgh ijkl mnop"}, "Null characters"),
    ({"var__EMAIL_USER": "team@gmail.com", "var__EMAIL_PASS": "abcd\x00efgh ijkl mnop"}, "Null characters"),
    ({"var__EMAIL_USER": "team@yahoo.com", "var__EMAIL_PASS": "abcd efgh ijkl mnop"}, "EMAIL_USER"),
    ({"var__EMAIL_USER": "team@gmail.com", "var__EMAIL_PASS": "short"}, "EMAIL_PASS"),
    ({"var__EMAIL_USER": "team@gmail.com"}, "EMAIL_PASS"),
]


@pytest.mark.parametrize(("variables", "words"), TEMPLATE_CASES)
def test_the_template_action_refuses_bad_variables_inline(admin_client, variables, words):
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    url = reverse("admin:configurations_configurationtemplate_changelist")
    data = {"action": "apply_to_environment", ACTION_CHECKBOX_NAME: [gmail.pk], "post": "preview",
            "environment": "test", "reason": "corpus", **variables}  # fmt: skip
    with Budget():
        response = admin_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors and words in json.dumps(errors), errors


def test_the_corpus_is_large_enough():
    assert len(SERVICE_CASES) + len(EDITOR_CASES) + len(IMPORT_CASES) + len(TEMPLATE_CASES) >= 60


# ------------------------------------------------------------------------------------- reasons


@pytest.mark.parametrize("reason", ["back\x00door", "bell\x07", "x" * 10_001], ids=["nul", "control", "long"])
def test_a_reason_the_history_could_not_keep_is_refused_on_every_path(reason, user):
    services.set_value(category="app", key="colour", environment="test", value="blue")
    services.set_value(category="app", key="colour", environment="test", value="red")
    entry = ConfigurationHistory.objects.filter(config_key="colour").order_by("id").first()
    with Budget(), pytest.raises(ValidationError, match="reason"):
        services.rollback(history_id=entry.pk, reason=reason, actor=user)
    with Budget(), pytest.raises(ValidationError, match="reason"):
        services.set_value(category="app", key="colour", environment="test", value="green", reason=reason)
    with Budget(), pytest.raises(CommandError, match="reason"):
        call_command("rollback_config", str(entry.pk), "--reason", reason, "--actor", user.username, stdout=StringIO())


@pytest.mark.parametrize("key", ["ho\x00st", "host\ud800"])
def test_a_key_name_no_database_can_hold_is_a_validation_error_naming_the_key(key, history):
    with pytest.raises(ValidationError, match=r"smtp\.ho.*\[production\]: the key name .* may contain only") as error:
        services.set_value(category="smtp", key=key, environment="production", value="x")
    assert "\x00" not in str(error.value)
    assert history.rows() == []
