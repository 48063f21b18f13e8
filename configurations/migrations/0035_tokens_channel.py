"""The tokens' changes get a NOTIFY channel of their own (issue 24; data/triggers/signals.py, runtime/watcher.py).

``config_notify_tokens`` sends ``NOTIFY configurations_tokens, 'tokens'`` instead of sending it on
``configurations_changed``, the channel of the values and the metadata. A watcher under a stream of writes then stops
listening to the values' channel between two refreshes (the refresh reads what changed meanwhile from the history)
while a token's change, a revocation, still reaches it at once: each write no longer wakes every worker's watcher
and the database backend that forwards it the notification.

Backwards, migration 0015's function comes back (both on ``configurations_changed``).
"""

from django.db import migrations

# Frozen copies of the definition installed here (data/triggers/signals.py) and of the one it replaces.
NOTIFY_TOKENS = r"""CREATE OR REPLACE FUNCTION config_notify_tokens() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('configurations_tokens', 'tokens');
  RETURN NULL;
END
$fn$"""

NOTIFY_TOKENS_0015 = r"""CREATE OR REPLACE FUNCTION config_notify_tokens() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('configurations_changed', 'tokens');
  RETURN NULL;
END
$fn$"""


def _run(*statements: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0034_single_write_does_less"),
    ]

    operations = [
        migrations.RunPython(_run(NOTIFY_TOKENS), _run(NOTIFY_TOKENS_0015)),
    ]
