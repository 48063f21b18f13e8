"""The runtime's reads, as named SQL: what configurations.runtime asks the database, in one place.

The runtime runs these through its own connection (the watcher's) or Django's, with ``%s`` placeholders; they
touch only the tables and columns named here, so a schema change shows here first. The tables' triggers
(data/triggers/) are what keep the history ids these queries read in step with every write.
"""

from __future__ import annotations

# PostgreSQL: the NOTIFY channels (data/triggers/signals.py): one for the values and the metadata, one for the tokens
# and what their owners may do, which a watcher never stops listening to; SQLite: the counter its triggers bump.
CHANNEL = "configurations_changed"
TOKENS_CHANNEL = "configurations_tokens"
LISTEN_SQL = f"LISTEN {CHANNEL}"
UNLISTEN_SQL = f"UNLISTEN {CHANNEL}"
LISTEN_TOKENS_SQL = f"LISTEN {TOKENS_CHANNEL}"
CHANGE_COUNTER_SQL = "SELECT value FROM configuration_change_counter WHERE id = 1"
ALIVE_SQL = "SELECT 1"

# An environment's active rows, as a snapshot holds them.
SNAPSHOT_SQL = (
    "SELECT id, category, config_key, config_value, value_type, is_encrypted FROM system_configurations "
    "WHERE environment = %s AND is_active"
)
# The newest history id: the chain head's, or the trail's when the head row is gone.
HEAD_SQL = (
    "SELECT COALESCE((SELECT last_id FROM configuration_history_head WHERE id = 1), "
    "(SELECT MAX(id) FROM configuration_history), 0)"
)
# One query for the head and every category's version (index idx_confhist_env_category_id).
VERSIONS_SQL = (
    f"SELECT NULL, ({HEAD_SQL}) UNION ALL "
    "SELECT category, MAX(id) FROM configuration_history WHERE environment = %s GROUP BY category"
)
# What the runtime takes from the metadata: password keys are secrets, and a default is a key's value while it has
# no active row (docs/runtime.md, Defaults).
# The metadata's version: the newest record of its change history (0: never changed).
METADATA_HEAD_SQL = (
    "SELECT COALESCE((SELECT last_id FROM audit_chain_heads WHERE table_name = 'configuration_metadata_changes'), 0)"
)
# The first row carries the metadata's version (as text, in the default's column), the others the keys.
METADATA_SQL = (
    f"SELECT NULL, NULL, NULL, NULL, CAST(({METADATA_HEAD_SQL}) AS TEXT) UNION ALL "
    "SELECT category, config_key, input_type, value_type, default_value FROM configuration_metadata "
    "WHERE input_type = 'password' OR default_value IS NOT NULL"
)
# A refresh's delta in one statement, so in one round trip and one snapshot (runtime/snapshots.py): part 0 is one row
# with both heads and whether rows after the id seen were archived since (moved to the archive table, or month
# partitions archived whole); part 1 the history rows after that id up to the head, at most a limit; part 2 the current
# rows those name, with their version. Parameters: the id seen, the limit, the id seen twice more. By engine
# (DELTA_SQL_BY_VENDOR): the row's version as the optimistic write compares it (PostgreSQL's xmin, data/optimistic.py;
# none elsewhere), and how the rows are named: PostgreSQL probes the primary key with an array, which its planner
# estimates small whatever the statistics (an IN over the CTE may be planned as a scan of the table).
_DELTA_SQL = (
    f"WITH heads AS (SELECT ({HEAD_SQL}) AS head, ({METADATA_HEAD_SQL}) AS metadata_head), "
    "changes AS (SELECT id, config_id, environment, category FROM configuration_history "
    "WHERE id > %s AND id <= (SELECT head FROM heads) ORDER BY id LIMIT %s) "
    "SELECT 0, head, metadata_head, "
    "(EXISTS (SELECT 1 FROM configuration_history_archive WHERE id > %s) "
    "OR EXISTS (SELECT 1 FROM configuration_history_archives WHERE last_id > %s)), "
    "CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), "
    "CAST(NULL AS BOOLEAN), CAST(NULL AS BOOLEAN), CAST(NULL AS TEXT) FROM heads "
    "UNION ALL SELECT 1, id, config_id, NULL, environment, category, NULL, NULL, NULL, NULL, NULL, NULL FROM changes "
    "UNION ALL SELECT 2, id, NULL, NULL, environment, category, config_key, config_value, value_type, is_encrypted, "
    "is_active, {version} FROM system_configurations WHERE {named} "
    "ORDER BY 1, 2"
)
DELTA_SQL_BY_VENDOR = {
    "postgresql": _DELTA_SQL.format(version="xmin::text", named="id = ANY(ARRAY(SELECT config_id FROM changes))"),
    "sqlite": _DELTA_SQL.format(version="NULL", named="id IN (SELECT config_id FROM changes)"),
}
# Every usable API token with what it grants (revoked ones and inactive owners' left out).
TOKENS_SQL = (
    "SELECT t.id, t.name, t.token_hash, t.owner_id, t.environments, t.categories, t.access, t.secrets, "
    "t.expires_at, t.created_at, t.last_used_at FROM configuration_api_tokens t JOIN users u ON u.id = t.owner_id "
    "WHERE NOT t.revoked AND u.is_active"
)
# Their owners, with what a request's checks read of them (permissions.can_edit: active, staff, superuser); the other
# columns (the password's hash among them) stay in the database.
_OWNERS = "SELECT owner_id FROM configuration_api_tokens WHERE NOT revoked"
TOKEN_OWNERS_SQL = (
    f"SELECT u.id, u.username, u.is_active, u.is_staff, u.is_superuser FROM users u WHERE u.id IN ({_OWNERS})"
)
# Every permission each of them holds, their own and their groups' (data/accounts.py asks the same of one user).
TOKEN_OWNER_PERMISSIONS_SQL = (
    "SELECT up.user_id, ct.app_label, p.codename FROM users_user_permissions up "
    "JOIN auth_permission p ON p.id = up.permission_id JOIN django_content_type ct ON ct.id = p.content_type_id "
    f"WHERE up.user_id IN ({_OWNERS}) "
    "UNION SELECT ug.user_id, ct.app_label, p.codename FROM users_groups ug "
    "JOIN auth_group_permissions gp ON gp.group_id = ug.group_id "
    "JOIN auth_permission p ON p.id = gp.permission_id JOIN django_content_type ct ON ct.id = p.content_type_id "
    f"WHERE ug.user_id IN ({_OWNERS})"
)
