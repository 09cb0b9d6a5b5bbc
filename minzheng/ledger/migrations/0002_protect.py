"""Database-side protection of the ledger (security M-2), on PostgreSQL and SQLite.

- ``ledger_transaction`` and ``ledger_posting`` are append-only: UPDATE, DELETE and TRUNCATE are
  refused by triggers (corrections are reversal transactions).
- ``ledger_account`` rows are never deleted; code, kind, currency, owner, overdraft rule and
  opening time never change; a closed account's balance and closing time never change.
- PostgreSQL only: DEFERRABLE INITIALLY DEFERRED constraint triggers check at COMMIT that every
  transaction touched has ≥ 2 postings summing to 0. The check of one journal entry runs once per
  database transaction however many postings it has (the last checked id is remembered in a
  transaction-local setting, forgotten by a BEFORE INSERT statement trigger whenever more postings
  arrive — also under SET CONSTRAINTS IMMEDIATE), so a large entry costs O(n), not O(n²).

CHECK constraints (amount ≠ 0, no overdraft, CNY only) come from the models in 0001.
"""

from django.db import migrations

PG_PROTECT = """
CREATE TRIGGER ledger_transaction_append_only
  BEFORE UPDATE OR DELETE ON ledger_transaction
  FOR EACH ROW EXECUTE FUNCTION minzheng_refuse_change();
CREATE TRIGGER ledger_transaction_no_truncate
  BEFORE TRUNCATE ON ledger_transaction
  FOR EACH STATEMENT EXECUTE FUNCTION minzheng_refuse_change();
CREATE TRIGGER ledger_posting_append_only
  BEFORE UPDATE OR DELETE ON ledger_posting
  FOR EACH ROW EXECUTE FUNCTION minzheng_refuse_change();
CREATE TRIGGER ledger_posting_no_truncate
  BEFORE TRUNCATE ON ledger_posting
  FOR EACH STATEMENT EXECUTE FUNCTION minzheng_refuse_change();
CREATE TRIGGER ledger_account_no_delete
  BEFORE DELETE ON ledger_account
  FOR EACH ROW EXECUTE FUNCTION minzheng_refuse_change();
CREATE TRIGGER ledger_account_no_truncate
  BEFORE TRUNCATE ON ledger_account
  FOR EACH STATEMENT EXECUTE FUNCTION minzheng_refuse_change();

CREATE OR REPLACE FUNCTION ledger_account_guard() RETURNS trigger AS $$
BEGIN
  IF NEW.id <> OLD.id OR NEW.code <> OLD.code OR NEW.kind <> OLD.kind
     OR NEW.currency <> OLD.currency OR NEW.allow_negative <> OLD.allow_negative
     OR NEW.owner_type <> OLD.owner_type OR NEW.owner_ref <> OLD.owner_ref
     OR NEW.opened_at <> OLD.opened_at THEN
    RAISE EXCEPTION 'ledger account %: code, kind, currency, owner, overdraft rule and opening time are immutable', OLD.code
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.closed_at IS NOT NULL
     AND (NEW.closed_at IS DISTINCT FROM OLD.closed_at OR NEW.balance_fen <> OLD.balance_fen) THEN
    RAISE EXCEPTION 'ledger account % is closed', OLD.code USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_account_guard
  BEFORE UPDATE ON ledger_account
  FOR EACH ROW EXECUTE FUNCTION ledger_account_guard();

CREATE OR REPLACE FUNCTION ledger_forget_checked() RETURNS trigger AS $$
BEGIN
  PERFORM set_config('minzheng.ledger_checked_txn', '', true);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger AS $$
DECLARE
  entry bigint;
  total numeric;
  lines bigint;
BEGIN
  IF TG_TABLE_NAME = 'ledger_transaction' THEN
    entry := NEW.id;
  ELSE
    entry := NEW.txn_id;
  END IF;
  IF current_setting('minzheng.ledger_checked_txn', true) = entry::text THEN
    RETURN NULL;
  END IF;
  SELECT COALESCE(SUM(amount_fen), 0), COUNT(*) INTO total, lines
    FROM ledger_posting WHERE txn_id = entry;
  IF lines < 2 OR total <> 0 THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced: % postings summing to % fen', entry, lines, total
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM set_config('minzheng.ledger_checked_txn', entry::text, true);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_posting_forget_checked
  BEFORE INSERT ON ledger_posting
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_forget_checked();
CREATE CONSTRAINT TRIGGER ledger_posting_balanced
  AFTER INSERT ON ledger_posting
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
  AFTER INSERT ON ledger_transaction
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
"""

PG_UNPROTECT = """
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_posting_balanced ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_posting_forget_checked ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_check_balanced();
DROP FUNCTION IF EXISTS ledger_forget_checked();
DROP TRIGGER IF EXISTS ledger_account_guard ON ledger_account;
DROP FUNCTION IF EXISTS ledger_account_guard();
DROP TRIGGER IF EXISTS ledger_account_no_truncate ON ledger_account;
DROP TRIGGER IF EXISTS ledger_account_no_delete ON ledger_account;
DROP TRIGGER IF EXISTS ledger_posting_no_truncate ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_posting_append_only ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_transaction_no_truncate ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_transaction_append_only ON ledger_transaction;
"""

# Names of the PostgreSQL row triggers that make the two tables append-only (tests lift them to
# play a superuser tampering with the ledger).
PG_APPEND_ONLY = {
    "ledger_transaction": "ledger_transaction_append_only",
    "ledger_posting": "ledger_posting_append_only",
}

SQLITE_ACCOUNT_GUARD = (
    "CREATE TRIGGER ledger_account_guard BEFORE UPDATE ON ledger_account "
    "WHEN NEW.id IS NOT OLD.id OR NEW.code IS NOT OLD.code OR NEW.kind IS NOT OLD.kind "
    "OR NEW.currency IS NOT OLD.currency OR NEW.allow_negative IS NOT OLD.allow_negative "
    "OR NEW.owner_type IS NOT OLD.owner_type OR NEW.owner_ref IS NOT OLD.owner_ref "
    "OR NEW.opened_at IS NOT OLD.opened_at "
    "OR (OLD.closed_at IS NOT NULL AND (NEW.closed_at IS NOT OLD.closed_at OR NEW.balance_fen IS NOT OLD.balance_fen)) "
    "BEGIN SELECT RAISE(ABORT, 'ledger account: immutable column or closed account'); END;"
)

# SQLite triggers that make the two tables append-only, by table.
SQLITE_APPEND_ONLY = {
    table: [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;",
    ]
    for table in ("ledger_transaction", "ledger_posting")
}

SQLITE_PROTECT = [
    *SQLITE_APPEND_ONLY["ledger_transaction"],
    *SQLITE_APPEND_ONLY["ledger_posting"],
    "CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account "
    "BEGIN SELECT RAISE(ABORT, 'ledger accounts are closed, never deleted'); END;",
    SQLITE_ACCOUNT_GUARD,
]

SQLITE_TRIGGERS = [
    "ledger_transaction_no_update",
    "ledger_transaction_no_delete",
    "ledger_posting_no_update",
    "ledger_posting_no_delete",
    "ledger_account_no_delete",
    "ledger_account_guard",
]


def protect(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_PROTECT, params=None)  # no placeholders: RAISE uses %
    elif vendor == "sqlite":
        for sql in SQLITE_PROTECT:
            schema_editor.execute(sql)


def unprotect(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_UNPROTECT, params=None)
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),  # minzheng_refuse_change()
        ("ledger", "0001_initial"),
    ]

    operations = [migrations.RunPython(protect, unprotect)]
