"""SQLite backend that gives the history triggers what PostgreSQL gives them.

PostgreSQL keeps the audit context in transaction-local settings
(``set_config(name, value, true)`` / ``current_setting(name, true)``). This
backend registers SQL functions of the same names on every connection, stores
the values per connection and forgets them when the transaction ends, so the
same application code and the same trigger logic work on both databases.
"""

from __future__ import annotations

from django.db.backends.sqlite3 import base

from configurations.data import sqlfunctions


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's SQLite backend with the history triggers' SQL functions on every connection."""

    def get_new_connection(self, conn_params):
        conn = super().get_new_connection(conn_params)
        self.transaction_settings = sqlfunctions.TransactionSettings(conn)
        sqlfunctions.register(conn, self.transaction_settings)
        return conn

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._forget_transaction_settings()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._forget_transaction_settings()

    def _close(self):
        self._forget_transaction_settings()
        return super()._close()

    def _forget_transaction_settings(self):
        settings = getattr(self, "transaction_settings", None)
        if settings is not None:
            settings.clear()
