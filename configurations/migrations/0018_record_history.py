"""Metadata and template history on every path, in a hash chain, written by the database.

Until now simple-history's signals wrote ``configuration_metadata_changes`` and
``configuration_templates_changes``: ``QuerySet.update()``, bulk writes and raw SQL left no record, nothing
said who or why, and the records were in no chain. From here on AFTER triggers write exactly one record per
changed row, with the old state, the audit context (who, why, IP, user agent) and a link in the table's hash
chain (``audit_chain_heads``); simple-history's signals write nothing. Existing records are chained in id
order. The SQL below is a frozen copy of data/triggers/records.py as of this migration.
"""

import hashlib

from django.db import migrations, models

PG_INSTALL = [
    r"""CREATE OR REPLACE FUNCTION config_record_content(p_row anyelement) RETURNS text
LANGUAGE sql STABLE SET TimeZone = 'UTC' AS $fn$
  -- The canonical text of a metadata or template history record, in UTC whatever the session's zone.
  SELECT (jsonb_strip_nulls(to_jsonb(p_row)) - 'history_prev_hash' - 'history_row_hash')::text
$fn$""",
    r"""CREATE OR REPLACE FUNCTION config_record_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $fn$
DECLARE
  v_table text := TG_ARGV[0];
  v_record jsonb;
  v_prev text;
  v_hash text;
  v_content text;
  v_id bigint;
BEGIN
  IF TG_OP = 'UPDATE' AND to_jsonb(OLD) = to_jsonb(NEW) THEN
    RETURN NULL;  -- nothing changed: no record
  END IF;
  -- One writer at a time extends the table's chain, until its transaction ends.
  SELECT last_hash INTO v_prev FROM audit_chain_heads WHERE table_name = v_table FOR UPDATE;
  IF NOT FOUND THEN
    -- No head yet, or it was flushed: the chain goes on from the table's last record.
    EXECUTE format('INSERT INTO audit_chain_heads (table_name, last_id, last_hash) '
                   'SELECT %L, max(history_id), (array_agg(history_row_hash ORDER BY history_id DESC))[1] FROM %I '
                   'ON CONFLICT (table_name) DO NOTHING', v_table, v_table);
    SELECT last_hash INTO v_prev FROM audit_chain_heads WHERE table_name = v_table FOR UPDATE;
  END IF;
  v_id := nextval(pg_get_serial_sequence(v_table, 'history_id'));
  v_record := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END || jsonb_build_object(
    'history_id', v_id,
    'history_date', clock_timestamp(),
    'history_type', CASE TG_OP WHEN 'INSERT' THEN '+' WHEN 'UPDATE' THEN '~' ELSE '-' END,
    'history_user_id', config_audit_setting('actor')::uuid,
    'history_change_reason', config_audit_setting('reason'),
    'history_ip_address', config_audit_setting('ip_address')::inet,
    'history_user_agent', config_audit_setting('user_agent'),
    'history_old_state', CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END,
    'history_prev_hash', v_prev);
  EXECUTE format('SELECT config_record_content(r) FROM jsonb_populate_record(NULL::%I, $1) r', v_table)
    INTO v_content USING v_record;
  v_hash := config_chain_hash(v_prev, v_content);
  EXECUTE format('INSERT INTO %I SELECT * FROM jsonb_populate_record(NULL::%I, $1)', v_table, v_table)
    USING v_record || jsonb_build_object('history_row_hash', v_hash);
  UPDATE audit_chain_heads SET last_id = v_id, last_hash = v_hash WHERE table_name = v_table;
  RETURN NULL;
END
$fn$""",
    "DROP TRIGGER IF EXISTS configuration_metadata_record ON configuration_metadata",
    r"""CREATE TRIGGER configuration_metadata_record AFTER INSERT OR DELETE OR UPDATE ON configuration_metadata FOR EACH ROW EXECUTE FUNCTION config_record_change('configuration_metadata_changes')""",
    "DROP TRIGGER IF EXISTS configuration_templates_record ON configuration_templates",
    r"""CREATE TRIGGER configuration_templates_record AFTER INSERT OR DELETE OR UPDATE ON configuration_templates FOR EACH ROW EXECUTE FUNCTION config_record_change('configuration_templates_changes')""",
]

SQLITE_INSTALL = [
    "DROP TRIGGER IF EXISTS configuration_metadata_record_insert",
    r"""CREATE TRIGGER configuration_metadata_record_insert
AFTER INSERT ON configuration_metadata
BEGIN
  INSERT INTO configuration_metadata_changes (id, category, config_key, display_name, description, input_type, validation_rules, default_value, is_required, sort_order, group_name, help_text, created_at, value_type, history_date, history_type, history_user_id, history_change_reason, history_ip_address, history_user_agent, history_old_state)
  VALUES (NEW.id, NEW.category, NEW.config_key, NEW.display_name, NEW.description, NEW.input_type, NEW.validation_rules, NEW.default_value, NEW.is_required, NEW.sort_order, NEW.group_name, NEW.help_text, NEW.created_at, NEW.value_type, config_next_timestamp(NULL), '+', NULLIF(current_setting('app.actor', 1), ''), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), NULL);
  UPDATE configuration_metadata_changes
     SET history_prev_hash = COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_metadata_changes'), (SELECT history_row_hash FROM configuration_metadata_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)),
         history_row_hash = config_chain_hash(COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_metadata_changes'), (SELECT history_row_hash FROM configuration_metadata_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)), config_record_content(id, category, config_key, display_name, description, input_type, validation_rules, default_value, is_required, sort_order, group_name, help_text, created_at, value_type, history_id, history_date, history_change_reason, history_type, history_user_id, history_old_state, history_ip_address, history_user_agent))
   WHERE history_id = last_insert_rowid();
  INSERT OR REPLACE INTO audit_chain_heads (table_name, last_id, last_hash)
  VALUES ('configuration_metadata_changes', last_insert_rowid(), (SELECT history_row_hash FROM configuration_metadata_changes WHERE history_id = last_insert_rowid()));
END""",
    "DROP TRIGGER IF EXISTS configuration_metadata_record_update",
    r"""CREATE TRIGGER configuration_metadata_record_update
AFTER UPDATE ON configuration_metadata
WHEN OLD.id IS NOT NEW.id OR OLD.category IS NOT NEW.category OR OLD.config_key IS NOT NEW.config_key OR OLD.display_name IS NOT NEW.display_name OR OLD.description IS NOT NEW.description OR OLD.input_type IS NOT NEW.input_type OR OLD.validation_rules IS NOT NEW.validation_rules OR OLD.default_value IS NOT NEW.default_value OR OLD.is_required IS NOT NEW.is_required OR OLD.sort_order IS NOT NEW.sort_order OR OLD.group_name IS NOT NEW.group_name OR OLD.help_text IS NOT NEW.help_text OR julianday(OLD.created_at) IS NOT julianday(NEW.created_at) OR OLD.value_type IS NOT NEW.value_type
BEGIN
  INSERT INTO configuration_metadata_changes (id, category, config_key, display_name, description, input_type, validation_rules, default_value, is_required, sort_order, group_name, help_text, created_at, value_type, history_date, history_type, history_user_id, history_change_reason, history_ip_address, history_user_agent, history_old_state)
  VALUES (NEW.id, NEW.category, NEW.config_key, NEW.display_name, NEW.description, NEW.input_type, NEW.validation_rules, NEW.default_value, NEW.is_required, NEW.sort_order, NEW.group_name, NEW.help_text, NEW.created_at, NEW.value_type, config_next_timestamp(NULL), '~', NULLIF(current_setting('app.actor', 1), ''), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), json_object('id', OLD.id, 'category', OLD.category, 'config_key', OLD.config_key, 'display_name', OLD.display_name, 'description', OLD.description, 'input_type', OLD.input_type, 'validation_rules', json(OLD.validation_rules), 'default_value', OLD.default_value, 'is_required', json(CASE WHEN OLD.is_required THEN 'true' ELSE 'false' END), 'sort_order', OLD.sort_order, 'group_name', OLD.group_name, 'help_text', OLD.help_text, 'created_at', OLD.created_at, 'value_type', OLD.value_type));
  UPDATE configuration_metadata_changes
     SET history_prev_hash = COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_metadata_changes'), (SELECT history_row_hash FROM configuration_metadata_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)),
         history_row_hash = config_chain_hash(COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_metadata_changes'), (SELECT history_row_hash FROM configuration_metadata_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)), config_record_content(id, category, config_key, display_name, description, input_type, validation_rules, default_value, is_required, sort_order, group_name, help_text, created_at, value_type, history_id, history_date, history_change_reason, history_type, history_user_id, history_old_state, history_ip_address, history_user_agent))
   WHERE history_id = last_insert_rowid();
  INSERT OR REPLACE INTO audit_chain_heads (table_name, last_id, last_hash)
  VALUES ('configuration_metadata_changes', last_insert_rowid(), (SELECT history_row_hash FROM configuration_metadata_changes WHERE history_id = last_insert_rowid()));
END""",
    "DROP TRIGGER IF EXISTS configuration_metadata_record_delete",
    r"""CREATE TRIGGER configuration_metadata_record_delete
AFTER DELETE ON configuration_metadata
BEGIN
  INSERT INTO configuration_metadata_changes (id, category, config_key, display_name, description, input_type, validation_rules, default_value, is_required, sort_order, group_name, help_text, created_at, value_type, history_date, history_type, history_user_id, history_change_reason, history_ip_address, history_user_agent, history_old_state)
  VALUES (OLD.id, OLD.category, OLD.config_key, OLD.display_name, OLD.description, OLD.input_type, OLD.validation_rules, OLD.default_value, OLD.is_required, OLD.sort_order, OLD.group_name, OLD.help_text, OLD.created_at, OLD.value_type, config_next_timestamp(NULL), '-', NULLIF(current_setting('app.actor', 1), ''), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), NULL);
  UPDATE configuration_metadata_changes
     SET history_prev_hash = COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_metadata_changes'), (SELECT history_row_hash FROM configuration_metadata_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)),
         history_row_hash = config_chain_hash(COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_metadata_changes'), (SELECT history_row_hash FROM configuration_metadata_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)), config_record_content(id, category, config_key, display_name, description, input_type, validation_rules, default_value, is_required, sort_order, group_name, help_text, created_at, value_type, history_id, history_date, history_change_reason, history_type, history_user_id, history_old_state, history_ip_address, history_user_agent))
   WHERE history_id = last_insert_rowid();
  INSERT OR REPLACE INTO audit_chain_heads (table_name, last_id, last_hash)
  VALUES ('configuration_metadata_changes', last_insert_rowid(), (SELECT history_row_hash FROM configuration_metadata_changes WHERE history_id = last_insert_rowid()));
END""",
    "DROP TRIGGER IF EXISTS configuration_templates_record_insert",
    r"""CREATE TRIGGER configuration_templates_record_insert
AFTER INSERT ON configuration_templates
BEGIN
  INSERT INTO configuration_templates_changes (id, provider_name, category, template_data, description, is_active, created_at, updated_at, history_date, history_type, history_user_id, history_change_reason, history_ip_address, history_user_agent, history_old_state)
  VALUES (NEW.id, NEW.provider_name, NEW.category, NEW.template_data, NEW.description, NEW.is_active, NEW.created_at, NEW.updated_at, config_next_timestamp(NULL), '+', NULLIF(current_setting('app.actor', 1), ''), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), NULL);
  UPDATE configuration_templates_changes
     SET history_prev_hash = COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_templates_changes'), (SELECT history_row_hash FROM configuration_templates_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)),
         history_row_hash = config_chain_hash(COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_templates_changes'), (SELECT history_row_hash FROM configuration_templates_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)), config_record_content(id, provider_name, category, template_data, description, is_active, created_at, updated_at, history_id, history_date, history_change_reason, history_type, history_user_id, history_old_state, history_ip_address, history_user_agent))
   WHERE history_id = last_insert_rowid();
  INSERT OR REPLACE INTO audit_chain_heads (table_name, last_id, last_hash)
  VALUES ('configuration_templates_changes', last_insert_rowid(), (SELECT history_row_hash FROM configuration_templates_changes WHERE history_id = last_insert_rowid()));
END""",
    "DROP TRIGGER IF EXISTS configuration_templates_record_update",
    r"""CREATE TRIGGER configuration_templates_record_update
AFTER UPDATE ON configuration_templates
WHEN OLD.id IS NOT NEW.id OR OLD.provider_name IS NOT NEW.provider_name OR OLD.category IS NOT NEW.category OR OLD.template_data IS NOT NEW.template_data OR OLD.description IS NOT NEW.description OR OLD.is_active IS NOT NEW.is_active OR julianday(OLD.created_at) IS NOT julianday(NEW.created_at) OR julianday(OLD.updated_at) IS NOT julianday(NEW.updated_at)
BEGIN
  INSERT INTO configuration_templates_changes (id, provider_name, category, template_data, description, is_active, created_at, updated_at, history_date, history_type, history_user_id, history_change_reason, history_ip_address, history_user_agent, history_old_state)
  VALUES (NEW.id, NEW.provider_name, NEW.category, NEW.template_data, NEW.description, NEW.is_active, NEW.created_at, NEW.updated_at, config_next_timestamp(NULL), '~', NULLIF(current_setting('app.actor', 1), ''), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), json_object('id', OLD.id, 'provider_name', OLD.provider_name, 'category', OLD.category, 'template_data', json(OLD.template_data), 'description', OLD.description, 'is_active', json(CASE WHEN OLD.is_active THEN 'true' ELSE 'false' END), 'created_at', OLD.created_at, 'updated_at', OLD.updated_at));
  UPDATE configuration_templates_changes
     SET history_prev_hash = COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_templates_changes'), (SELECT history_row_hash FROM configuration_templates_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)),
         history_row_hash = config_chain_hash(COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_templates_changes'), (SELECT history_row_hash FROM configuration_templates_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)), config_record_content(id, provider_name, category, template_data, description, is_active, created_at, updated_at, history_id, history_date, history_change_reason, history_type, history_user_id, history_old_state, history_ip_address, history_user_agent))
   WHERE history_id = last_insert_rowid();
  INSERT OR REPLACE INTO audit_chain_heads (table_name, last_id, last_hash)
  VALUES ('configuration_templates_changes', last_insert_rowid(), (SELECT history_row_hash FROM configuration_templates_changes WHERE history_id = last_insert_rowid()));
END""",
    "DROP TRIGGER IF EXISTS configuration_templates_record_delete",
    r"""CREATE TRIGGER configuration_templates_record_delete
AFTER DELETE ON configuration_templates
BEGIN
  INSERT INTO configuration_templates_changes (id, provider_name, category, template_data, description, is_active, created_at, updated_at, history_date, history_type, history_user_id, history_change_reason, history_ip_address, history_user_agent, history_old_state)
  VALUES (OLD.id, OLD.provider_name, OLD.category, OLD.template_data, OLD.description, OLD.is_active, OLD.created_at, OLD.updated_at, config_next_timestamp(NULL), '-', NULLIF(current_setting('app.actor', 1), ''), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), NULL);
  UPDATE configuration_templates_changes
     SET history_prev_hash = COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_templates_changes'), (SELECT history_row_hash FROM configuration_templates_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)),
         history_row_hash = config_chain_hash(COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = 'configuration_templates_changes'), (SELECT history_row_hash FROM configuration_templates_changes WHERE history_id < last_insert_rowid() ORDER BY history_id DESC LIMIT 1)), config_record_content(id, provider_name, category, template_data, description, is_active, created_at, updated_at, history_id, history_date, history_change_reason, history_type, history_user_id, history_old_state, history_ip_address, history_user_agent))
   WHERE history_id = last_insert_rowid();
  INSERT OR REPLACE INTO audit_chain_heads (table_name, last_id, last_hash)
  VALUES ('configuration_templates_changes', last_insert_rowid(), (SELECT history_row_hash FROM configuration_templates_changes WHERE history_id = last_insert_rowid()));
END""",
]

PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS configuration_metadata_record ON configuration_metadata",
    "DROP TRIGGER IF EXISTS configuration_templates_record ON configuration_templates",
    "DROP FUNCTION IF EXISTS config_record_change()",
    "DROP FUNCTION IF EXISTS config_record_content(anyelement)",
]
SQLITE_UNINSTALL = [statement for statement in SQLITE_INSTALL if statement.startswith("DROP TRIGGER")]

RECORD_TABLES = ("configuration_metadata_changes", "configuration_templates_changes")
# What a record's hash covers on SQLite, in order (data/triggers/records.py, CONTENT_COLUMNS).
SQLITE_CONTENT_COLUMNS = {
    "configuration_metadata_changes": (
        "id",
        "category",
        "config_key",
        "display_name",
        "description",
        "input_type",
        "validation_rules",
        "default_value",
        "is_required",
        "sort_order",
        "group_name",
        "help_text",
        "created_at",
        "value_type",
        "history_id",
        "history_date",
        "history_change_reason",
        "history_type",
        "history_user_id",
        "history_old_state",
        "history_ip_address",
        "history_user_agent",
    ),
    "configuration_templates_changes": (
        "id",
        "provider_name",
        "category",
        "template_data",
        "description",
        "is_active",
        "created_at",
        "updated_at",
        "history_id",
        "history_date",
        "history_change_reason",
        "history_type",
        "history_user_id",
        "history_old_state",
        "history_ip_address",
        "history_user_agent",
    ),
}
PG_CHAIN_EXISTING = """
DO $$
DECLARE
  r record;
  v_prev text;
  v_hash text;
  v_last bigint;
BEGIN
  FOR r IN SELECT t.history_id, config_record_content(t) AS content FROM {table} t ORDER BY t.history_id LOOP
    v_hash := config_chain_hash(v_prev, r.content);
    UPDATE {table} SET history_prev_hash = v_prev, history_row_hash = v_hash WHERE history_id = r.history_id;
    v_prev := v_hash;
    v_last := r.history_id;
  END LOOP;
  INSERT INTO audit_chain_heads (table_name, last_id, last_hash) VALUES ('{table}', v_last, v_prev);
END
$$
"""


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in [*PG_INSTALL, *(PG_CHAIN_EXISTING.format(table=table) for table in RECORD_TABLES)]:
            schema_editor.execute(statement, params=None)
    elif vendor == "sqlite":
        for table in RECORD_TABLES:
            _chain_existing_on_sqlite(schema_editor.connection, table)
        for statement in SQLITE_INSTALL:
            schema_editor.execute(statement, params=None)
    else:
        raise NotImplementedError(f"The record history triggers support PostgreSQL and SQLite, not {vendor}.")


def _chain_existing_on_sqlite(connection, table: str) -> None:
    """Chain the records written before this migration, in id order, with the functions the backend registers.

    The content is computed in SQL, from the stored values as the triggers see them (Django's cursor would
    convert booleans and times first).
    """
    columns = SQLITE_CONTENT_COLUMNS[table]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT history_id, config_record_content({', '.join(columns)}) FROM {table} ORDER BY 1")
        rows = cursor.fetchall()
        previous, last_id = None, None
        for entry_id, content in rows:
            row_hash = hashlib.sha256(((previous or "") + content).encode()).hexdigest()
            cursor.execute(f"UPDATE {table} SET history_prev_hash = %s, history_row_hash = %s WHERE history_id = %s",
                           [previous, row_hash, entry_id])  # fmt: skip
            previous, last_id = row_hash, entry_id
        cursor.execute(
            "INSERT INTO audit_chain_heads (table_name, last_id, last_hash) VALUES (%s, %s, %s)",
            [table, last_id, previous],
        )


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in PG_UNINSTALL if vendor == "postgresql" else SQLITE_UNINSTALL if vendor == "sqlite" else []:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0017_secret_patterns"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("table_name", models.CharField(max_length=63, primary_key=True, serialize=False)),
                ("last_id", models.BigIntegerField(null=True)),
                ("last_hash", models.CharField(max_length=64, null=True)),
            ],
            options={
                "db_table": "audit_chain_heads",
            },
        ),
        migrations.AddField(
            model_name="historicalconfigurationmetadata",
            name="history_ip_address",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalconfigurationmetadata",
            name="history_old_state",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalconfigurationmetadata",
            name="history_prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="historicalconfigurationmetadata",
            name="history_row_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="historicalconfigurationmetadata",
            name="history_user_agent",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalconfigurationtemplate",
            name="history_ip_address",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalconfigurationtemplate",
            name="history_old_state",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalconfigurationtemplate",
            name="history_prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="historicalconfigurationtemplate",
            name="history_row_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="historicalconfigurationtemplate",
            name="history_user_agent",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="historicalconfigurationmetadata",
            name="history_change_reason",
            field=models.TextField(null=True),
        ),
        migrations.AlterField(
            model_name="historicalconfigurationtemplate",
            name="history_change_reason",
            field=models.TextField(null=True),
        ),
        migrations.RunPython(install, uninstall),
    ]
