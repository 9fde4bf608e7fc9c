"""Which errors a retry may cure, on the drivers' own exception classes (the real-server cases are in
tests/test_operations.py: a refused connection, a dropped one, a deadlock on each engine)."""
from __future__ import annotations

import sqlite3

import pymysql
import pytest
import sqlalchemy as sa

from crm_migrate.errors import MigrationError
from crm_migrate.transient import is_transient, transient_message


def wrapped(orig: Exception) -> sa.exc.DBAPIError:
    return sa.exc.OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize("orig", [
    pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction"),
    pymysql.err.OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"),
    pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused)"),
    pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
    sqlite3.OperationalError("database is locked"),
])
def test_passing_conditions_are_transient(orig):
    assert is_transient(wrapped(orig)) and is_transient(orig)


@pytest.mark.parametrize("orig", [
    pymysql.err.OperationalError(1045, "Access denied for user 'crm'@'localhost' (using password: YES)"),
    pymysql.err.OperationalError(1049, "Unknown database 'crm_target'"),
    pymysql.err.ProgrammingError(1146, "Table 'crm.crm_account' doesn't exist"),
    pymysql.err.DataError(1406, "Data too long for column 'account_name' at row 1"),
    pymysql.err.IntegrityError(1062, "Duplicate entry 'CUS-1' for key 'PRIMARY'"),
    sqlite3.OperationalError("no such table: crm_account"),
    ValueError("could not convert string to float: '12.5万'"),
])
def test_data_and_configuration_errors_are_not(orig):
    assert not is_transient(wrapped(orig) if not isinstance(orig, ValueError) else orig)


def test_our_own_errors_say_it_themselves_and_win_over_their_context():
    try:
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.OperationalError:
            raise MigrationError("the target refused a write", transient=False)  # noqa: B904 - the context is the point
    except MigrationError as exc:
        assert not is_transient(exc)  # the flag decides, not the driver error it came from
    assert is_transient(MigrationError("cannot connect", transient=True))
    chained = RuntimeError("stage failed")
    chained.__cause__ = wrapped(pymysql.err.OperationalError(1213, "Deadlock found"))
    assert is_transient(chained)  # found through the chain


def test_words_without_codes():
    assert transient_message("could not connect to server: Connection refused")
    assert transient_message("server closed the connection unexpectedly")
    assert not transient_message('FATAL:  password authentication failed for user "crm"; connection refused')
    assert not transient_message("relation \"crm_account\" does not exist")


# MySQL/MariaDB error numbers of passing conditions, as the server documents them (listed here, not
# read from the module, so a wrong number there fails this test).
MYSQL_TRANSIENT = {1205: "lock wait timeout", 1213: "deadlock", 2002: "can't connect (socket)", 2003: "can't connect (TCP)",
                   2006: "server has gone away", 2013: "lost connection during query", 1040: "too many connections",
                   1053: "server shutdown in progress"}


@pytest.mark.parametrize("code", sorted(MYSQL_TRANSIENT))
def test_each_mysql_code_is_transient_by_its_number_alone(code):
    assert is_transient(wrapped(pymysql.err.OperationalError(code, "x")))  # no telling words: the number decides
    assert not is_transient(wrapped(pymysql.err.OperationalError(code + 10_000, "x")))


@pytest.mark.parametrize("name, transient", [
    ("DeadlockDetected", True), ("SerializationFailure", True), ("LockNotAvailable", True), ("AdminShutdown", True),
    ("CannotConnectNow", True), ("UndefinedTable", False), ("UniqueViolation", False), ("StringDataRightTruncation", False),
])
def test_postgresql_errors_by_their_sqlstate(name, transient):
    errors = pytest.importorskip("psycopg.errors")
    orig = getattr(errors, name)("x")  # the class carries the SQLSTATE; the message says nothing
    assert is_transient(wrapped(orig)) is transient
