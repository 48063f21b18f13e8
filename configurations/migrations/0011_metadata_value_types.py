"""Metadata declares each key's type, the single source of it; the integer rule; sender and no-AUTH relays.

- ``configuration_metadata.value_type`` (the CHECK of the configurations' column, or NULL for "not declared"),
  filled for the shipped smtp metadata: port number, secure boolean, the rest string. Every write path stores
  the metadata's type; rows whose type disagrees are converted here (their text canonicalised for the type) and,
  on PostgreSQL, recorded in history by the trigger. SQLite runs data migrations with its triggers down
  (docs/schema.md): there the conversion is not in history.
- ``validate_configuration_value()`` reads the metadata's type first (the spec's ``v_metadata.value_type``) and
  knows the ``integer`` rule, which smtp.port now has.
- smtp gains ``from_email`` (email rule, not required; empty means DEFAULT_FROM_EMAIL); username and password are
  no longer required (an empty username means a relay without AUTH); every shipped smtp template asks for an
  optional FROM_EMAIL.

The reverse restores the function of 0002 and the previous metadata, and drops the column.
"""

from decimal import Decimal, InvalidOperation

from django.db import migrations, models

PG_INSTALL = [
    r"""
CREATE OR REPLACE FUNCTION validate_configuration_value(
  p_category VARCHAR,
  p_config_key VARCHAR,
  p_config_value TEXT,
  p_environment VARCHAR DEFAULT NULL
) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_metadata configuration_metadata%ROWTYPE;
  v_rules JSONB;
  v_value_type VARCHAR;
  v_required BOOLEAN;
BEGIN
  SELECT * INTO v_metadata
  FROM configuration_metadata
  WHERE category = p_category AND config_key = p_config_key;

  IF NOT FOUND THEN
    -- No metadata means no validation required.
    RETURN TRUE;
  END IF;

  v_rules := COALESCE(v_metadata.validation_rules, '{}'::jsonb);
  IF jsonb_typeof(v_rules) <> 'object' THEN
    v_rules := '{}'::jsonb;
  END IF;

  -- The type is the metadata's when it declares one (as the spec's function meant), else the row's.
  v_value_type := v_metadata.value_type;
  IF v_value_type IS NULL THEN
    SELECT c.value_type INTO v_value_type
    FROM system_configurations c
    WHERE c.category = p_category AND c.config_key = p_config_key
      AND (p_environment IS NULL OR c.environment = p_environment)
    ORDER BY c.is_active DESC, c.id
    LIMIT 1;
  END IF;

  v_required := v_metadata.is_required OR COALESCE((v_rules->>'required')::boolean, false);
  IF p_config_value IS NULL OR p_config_value = '' THEN
    -- An empty value is valid exactly when it is not required; other rules apply to values.
    RETURN NOT v_required;
  END IF;

  IF v_rules ? 'minLength' AND char_length(p_config_value) < (v_rules->>'minLength')::integer THEN
    RETURN FALSE;
  END IF;
  IF v_rules ? 'maxLength' AND char_length(p_config_value) > (v_rules->>'maxLength')::integer THEN
    RETURN FALSE;
  END IF;

  IF v_metadata.input_type = 'number' OR v_value_type = 'number' THEN
    IF p_config_value !~ '^-?[0-9]+(\.[0-9]+)?$' THEN
      RETURN FALSE;
    END IF;
    IF COALESCE((v_rules->>'integer')::boolean, false)
       AND p_config_value::numeric <> trunc(p_config_value::numeric) THEN
      RETURN FALSE;
    END IF;
    IF v_rules ? 'min' AND p_config_value::numeric < (v_rules->>'min')::numeric THEN
      RETURN FALSE;
    END IF;
    IF v_rules ? 'max' AND p_config_value::numeric > (v_rules->>'max')::numeric THEN
      RETURN FALSE;
    END IF;
  END IF;

  IF v_rules ? 'options' AND jsonb_typeof(v_rules->'options') = 'array' AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(v_rules->'options') AS o(option) WHERE o.option = p_config_value
  ) THEN
    RETURN FALSE;
  END IF;

  IF v_rules ? 'pattern' AND p_config_value !~ (v_rules->>'pattern') THEN
    RETURN FALSE;
  END IF;

  RETURN TRUE;
END
$$;
""",
]

SMTP_TYPES = {"host": "string", "port": "number", "secure": "boolean", "auth_user": "string", "auth_pass": "string"}
FROM_EMAIL = {
    "config_key": "from_email",
    "display_name": "From address",
    "description": "The sender of every email sent through these settings",
    "input_type": "text",
    "value_type": "string",
    "validation_rules": {"custom": {"emailValidation": True}, "maxLength": 254},
    "is_required": False,
    "sort_order": 6,
    "group_name": "Sender",
    "help_text": "A sender the provider has verified. Empty: the site's DEFAULT_FROM_EMAIL.",
}
FROM_EMAIL_VARIABLE = {
    "name": "FROM_EMAIL",
    "description": "The sender address (optional; a verified sender of this provider)",
    "required": False,
    "example": "no-reply@example.com",
    "validation": {"custom": {"emailValidation": True}},
}


# What each shipped pattern means, said to people instead of the raw regex.
HOST_PATTERN = "may contain only letters, digits, dots and hyphens"
VARIABLE_PATTERNS = {
    "EMAIL_USER": "must be a Gmail address (name@gmail.com)",
    "EMAIL_PASS": "must be a Gmail App Password: four groups of four lower-case letters",
    "SENDGRID_API_KEY": "must be a SendGrid API key, which starts with SG.",
    "AWS_REGION": "must be an AWS region such as eu-west-1",
    "SES_SMTP_USERNAME": "must be an SES SMTP user name: 16 to 128 capital letters and digits",
}


def _describe_patterns(Metadata, Template) -> None:
    host = Metadata.objects.filter(category="smtp", config_key="host").first()
    if host is not None and "pattern" in (host.validation_rules or {}):
        host.validation_rules = {**host.validation_rules, "patternDescription": HOST_PATTERN}
        host.save(update_fields=["validation_rules"])
    for template in Template.objects.filter(category="smtp"):
        changed = False
        for variable in template.template_data.get("variables", []):
            rules = variable.get("validation") or {}
            if "pattern" in rules and variable.get("name") in VARIABLE_PATTERNS:
                rules["patternDescription"] = VARIABLE_PATTERNS[variable["name"]]
                variable["validation"], changed = rules, True
        if changed:
            template.save(update_fields=["template_data"])


def _canonical(text, value_type):
    """The stored text of ``text`` as ``value_type``, or None when it does not convert (left as it is)."""
    if text is None or text == "":
        return text
    if value_type == "boolean":
        lowered = text.strip().lower()
        return lowered if lowered in ("true", "false") else None
    if value_type == "number":
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            return None
        if not number.is_finite() or len(text) > 120:
            return None
        return str(int(number)) if number == number.to_integral_value() else format(number, "f")
    return text


def forwards(apps, schema_editor):
    Metadata = apps.get_model("configurations", "ConfigurationMetadata")
    Configuration = apps.get_model("configurations", "SystemConfiguration")
    Template = apps.get_model("configurations", "ConfigurationTemplate")
    for key, value_type in SMTP_TYPES.items():
        Metadata.objects.filter(category="smtp", config_key=key).update(value_type=value_type)
    port = Metadata.objects.filter(category="smtp", config_key="port").first()
    if port is not None:
        port.validation_rules = {**(port.validation_rules or {}), "integer": True}
        port.save(update_fields=["validation_rules"])
    for key in ("auth_user", "auth_pass"):
        meta = Metadata.objects.filter(category="smtp", config_key=key).first()
        if meta is not None:
            meta.is_required = False
            meta.validation_rules = {k: v for k, v in (meta.validation_rules or {}).items() if k != "required"}
            if key == "auth_user":
                meta.help_text = (meta.help_text or "") + ". Leave empty for a relay without authentication (no AUTH)."
            meta.save(update_fields=["is_required", "validation_rules", "help_text"])
    Metadata.objects.get_or_create(category="smtp", config_key="from_email",
                                   defaults={k: v for k, v in FROM_EMAIL.items() if k != "config_key"})  # fmt: skip
    for template in Template.objects.filter(category="smtp"):
        data = template.template_data
        if "from_email" not in data.get("configs", {}):
            data["configs"]["from_email"] = "{{FROM_EMAIL}}"
            data.setdefault("variables", []).append(dict(FROM_EMAIL_VARIABLE))
            template.save(update_fields=["template_data"])
    _describe_patterns(Metadata, Template)
    _convert_rows(Metadata, Configuration)
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_INSTALL:
            schema_editor.execute(statement, params=None)


def _convert_rows(Metadata, Configuration):
    """Rows whose type disagrees with their metadata's take it, where their text converts."""
    for meta in Metadata.objects.exclude(value_type=None):
        rows = Configuration.objects.filter(category=meta.category, config_key=meta.config_key)
        for row in rows.exclude(value_type=meta.value_type):
            text = row.config_value if row.is_encrypted else _canonical(row.config_value, meta.value_type)
            if text is None and row.config_value is not None:
                continue  # does not convert: left for a person (runtime logs it)
            Configuration.objects.filter(pk=row.pk).update(value_type=meta.value_type, config_value=text)


def backwards(apps, schema_editor):
    Metadata = apps.get_model("configurations", "ConfigurationMetadata")
    Template = apps.get_model("configurations", "ConfigurationTemplate")
    Metadata.objects.filter(category="smtp", config_key="from_email").delete()
    for template in Template.objects.filter(category="smtp"):
        data = template.template_data
        if data.get("configs", {}).pop("from_email", None) is not None:
            data["variables"] = [v for v in data.get("variables", []) if v.get("name") != "FROM_EMAIL"]
            template.save(update_fields=["template_data"])
    for key in ("auth_user", "auth_pass"):
        meta = Metadata.objects.filter(category="smtp", config_key=key).first()
        if meta is not None:
            meta.is_required = True
            meta.validation_rules = {**(meta.validation_rules or {}), "required": True}
            meta.help_text = (meta.help_text or "").split(". Leave empty for a relay")[0]
            meta.save(update_fields=["is_required", "validation_rules", "help_text"])
    port = Metadata.objects.filter(category="smtp", config_key="port").first()
    if port is not None:
        port.validation_rules = {k: v for k, v in (port.validation_rules or {}).items() if k != "integer"}
        port.save(update_fields=["validation_rules"])
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_0002_VALIDATE:
            schema_editor.execute(statement, params=None)


def _drop_sqlite_triggers(schema_editor) -> None:
    """SQLite copies the table to add a constraint and refuses while a trigger refers to it (post_migrate
    installs the declared triggers again)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = [row[0] for row in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{name}"', params=None)


# Frozen copy of 0002_history_triggers' validate_configuration_value(), for the reverse.
PG_0002_VALIDATE = [
    r"""
CREATE OR REPLACE FUNCTION validate_configuration_value(
  p_category VARCHAR,
  p_config_key VARCHAR,
  p_config_value TEXT,
  p_environment VARCHAR DEFAULT NULL
) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_metadata configuration_metadata%ROWTYPE;
  v_rules JSONB;
  v_value_type VARCHAR;
  v_required BOOLEAN;
BEGIN
  SELECT * INTO v_metadata
  FROM configuration_metadata
  WHERE category = p_category AND config_key = p_config_key;

  IF NOT FOUND THEN
    -- No metadata means no validation required.
    RETURN TRUE;
  END IF;

  v_rules := COALESCE(v_metadata.validation_rules, '{}'::jsonb);
  IF jsonb_typeof(v_rules) <> 'object' THEN
    v_rules := '{}'::jsonb;
  END IF;

  -- The type lives on the configuration row, not on the metadata (the spec's defect).
  SELECT c.value_type INTO v_value_type
  FROM system_configurations c
  WHERE c.category = p_category AND c.config_key = p_config_key
    AND (p_environment IS NULL OR c.environment = p_environment)
  ORDER BY c.is_active DESC, c.id
  LIMIT 1;

  v_required := v_metadata.is_required OR COALESCE((v_rules->>'required')::boolean, false);
  IF p_config_value IS NULL OR p_config_value = '' THEN
    -- An empty value is valid exactly when it is not required; other rules apply to values.
    RETURN NOT v_required;
  END IF;

  IF v_rules ? 'minLength' AND char_length(p_config_value) < (v_rules->>'minLength')::integer THEN
    RETURN FALSE;
  END IF;
  IF v_rules ? 'maxLength' AND char_length(p_config_value) > (v_rules->>'maxLength')::integer THEN
    RETURN FALSE;
  END IF;

  IF v_metadata.input_type = 'number' OR v_value_type = 'number' THEN
    IF p_config_value !~ '^-?[0-9]+(\.[0-9]+)?$' THEN
      RETURN FALSE;
    END IF;
    IF v_rules ? 'min' AND p_config_value::numeric < (v_rules->>'min')::numeric THEN
      RETURN FALSE;
    END IF;
    IF v_rules ? 'max' AND p_config_value::numeric > (v_rules->>'max')::numeric THEN
      RETURN FALSE;
    END IF;
  END IF;

  IF v_rules ? 'options' AND jsonb_typeof(v_rules->'options') = 'array' AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(v_rules->'options') AS o(option) WHERE o.option = p_config_value
  ) THEN
    RETURN FALSE;
  END IF;

  IF v_rules ? 'pattern' AND p_config_value !~ (v_rules->>'pattern') THEN
    RETURN FALSE;
  END IF;

  RETURN TRUE;
END
$$;
""",
]


class AddConstraintOnSQLiteWithoutTriggers(migrations.AddConstraint):
    """SQLite copies the table to add a constraint; its triggers come down first (post_migrate restores them)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "sqlite":
            _drop_sqlite_triggers(schema_editor)
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "sqlite":
            _drop_sqlite_triggers(schema_editor)
        super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0010_valid_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="configurationmetadata",
            name="value_type",
            field=models.CharField(
                blank=True,
                choices=[("string", "String"), ("number", "Number"), ("boolean", "Boolean"), ("json", "Json")],
                max_length=20,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="historicalconfigurationmetadata",
            name="value_type",
            field=models.CharField(
                blank=True,
                choices=[("string", "String"), ("number", "Number"), ("boolean", "Boolean"), ("json", "Json")],
                max_length=20,
                null=True,
            ),
        ),
        AddConstraintOnSQLiteWithoutTriggers(
            model_name="configurationmetadata",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("value_type__isnull", True),
                    ("value_type__in", ["string", "number", "boolean", "json"]),
                    _connector="OR",
                ),
                name="configuration_metadata_value_type_check",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
