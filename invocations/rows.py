"""Fixed single-row statements for the asynchronous hot path, built once from model metadata.

The ORM spends ≈ 0.3–0.6 ms of Python compiling each query; the same statement through a cursor
costs ≈ 0.05 ms. A queued event used to cost the worker ≈ 4.5 ms of CPU in nine ORM queries,
85 % of it compiling SQL (cProfile of ``async_events.run_queued_invocation``), so the Event accept
and the worker's run use these instead — the same habit as ``services/invoke.py``'s version lookup.

Values go in through the model's own fields (``get_db_prep_save``) and come out through the
backend's and the fields' converters, so rows read and written here are exactly what the ORM would
read and write (aware datetimes, JSON, booleans on SQLite). Columns are named by model field, never
spelled by hand, so a migration cannot leave a statement behind. On SQLite, writes outside a
transaction take a per-process lock first (``writing``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Field, Model
from django.db.models.constants import OnConflict

M = TypeVar("M", bound=Model)
_sqlite_writer = threading.Lock()
_statements: dict[tuple[Any, ...], str] = {}
_readers: dict[tuple[type[Model], str, str], tuple[str, Any, list[Callable[..., Any]]]] = {}


@contextmanager
def writing() -> Iterator[None]:
    """One writing thread at a time per process on SQLite (outside transactions).

    SQLite has one write lock per database and its busy handler sleeps 1, 2, 5 … ms before trying
    again: eight web threads storing Event rows at once slept more often than they wrote (strace:
    1.3 sleeps per accept). A thread waiting here is woken as soon as the writer before it is done.
    Inside a transaction SQLite's lock is already held (``BEGIN IMMEDIATE``), and waiting here
    while holding it could deadlock, so transactions pass straight through.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with _sqlite_writer:
        yield


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field), name
    return field


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], name: str, *, qualified: bool = False) -> str:
    """``name``'s column, quoted; ``qualified`` prefixes the table (for joins)."""
    quoted = connection.ops.quote_name(_field(model, name).column)
    return f"{table(model)}.{quoted}" if qualified else quoted


def columns(model: type[Model], names: Iterable[str], *, qualified: bool = False) -> str:
    return ", ".join(column(model, name, qualified=qualified) for name in names)


def prepare(model: type[Model], name: str, value: Any) -> Any:
    """A Python value as the database stores it in ``name``'s column (what the ORM would send)."""
    return _field(model, name).get_db_prep_save(value, connection)


def convert(model: type[Model], names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A row read by a raw statement as the ORM would hand it over, keyed by attribute name."""
    values: dict[str, Any] = {}
    for name, value in zip(names, row):
        attname, expression, converters = _reader(model, name)
        for converter in converters:
            value = converter(value, expression, connection)
        values[attname] = value
    return values


def instance(model: type[M], names: Sequence[str], row: Sequence[Any]) -> M:
    """A model instance from a raw row: the fields in ``names`` loaded, every other one deferred
    (read on access, and never written by ``save()``), as ``QuerySet.only`` would build it."""
    values = convert(model, names, row)
    loaded = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(None, loaded, [values[attname] for attname in loaded])


def _reader(model: type[Model], name: str) -> tuple[str, Any, list[Callable[..., Any]]]:
    key = (model, name, connection.vendor)
    if key not in _readers:
        field = _field(model, name)
        expression = field.get_col(model._meta.db_table)
        converters = [*connection.ops.get_db_converters(expression), *field.get_db_converters(connection)]
        _readers[key] = (field.attname, expression, converters)
    return _readers[key]


def statement(key: tuple[Any, ...], build: Callable[[], str]) -> str:
    """The SQL for ``key``, built on first use (per database vendor)."""
    full_key = (connection.vendor, *key)
    if full_key not in _statements:
        _statements[full_key] = build()
    return _statements[full_key]


def _generated_pk(model: type[Model]) -> bool:
    pk = model._meta.pk
    return pk is not None and pk.get_internal_type().endswith("AutoField")


def _insert_fields(model: type[Model]) -> tuple[Field[Any, Any], ...]:
    """Every column but a database-generated primary key (InvocationBody's, a request id, is set)."""
    generated = _generated_pk(model)
    return tuple(field for field in model._meta.concrete_fields if not (field.primary_key and generated))


def _insert_sql(model: type[Model], count: int, *, ignore_conflicts: bool = False) -> str:
    """``INSERT … VALUES (…), … (count rows) [RETURNING pk]``, built once per model and row count;
    ``ignore_conflicts``: rows whose unique key is stored already are skipped (no RETURNING)."""
    fields = _insert_fields(model)
    pk = model._meta.pk
    assert pk is not None
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None

    def build() -> str:
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = (f"{connection.ops.insert_statement(on_conflict=on_conflict)} {table(model)} "
               f"({columns(model, [f.name for f in fields])}) VALUES " + ", ".join([row] * count))  # fmt: skip
        if ignore_conflicts:
            suffix = connection.ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
            sql += f" {suffix}" if suffix else ""
        elif connection.features.can_return_columns_from_insert:
            sql += f" RETURNING {connection.ops.quote_name(pk.column)}"
        return sql

    return statement(("insert", model, count, ignore_conflicts), build)


def _values(instances: Iterable[Model], fields: Sequence[Field[Any, Any]]) -> list[Any]:
    """The INSERT parameters of ``instances``, row after row, as the database stores them."""
    return [field.get_db_prep_save(getattr(instance, field.attname), connection) for instance in instances for field in fields]


def _inserted(instance: Model, pk: Any) -> None:
    if _generated_pk(type(instance)):
        instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias


def insert(instance: Model) -> None:
    """INSERT ``instance`` as a new row (every concrete field, as ``save(force_insert=True)``);
    sets its primary key. No signals, no ``pre_save`` (no model here uses ``auto_now``)."""
    fields = _insert_fields(type(instance))
    params = _values([instance], fields)
    with writing(), connection.cursor() as cursor:
        cursor.execute(_insert_sql(type(instance), 1), params)
        # fetchall: SQLite ends the statement (and its write lock) only when stepped to the end.
        returning = connection.features.can_return_columns_from_insert
        _inserted(instance, cursor.fetchall()[0][0] if returning else cursor.lastrowid)


def insert_many(instances: Sequence[Model], *, ignore_conflicts: bool = False) -> None:
    """INSERT new rows of one model, as many per statement as the backend takes (all of them on
    PostgreSQL, 999 parameters' worth on SQLite), setting each primary key as ``insert`` does.

    One statement is atomic by itself, with no BEGIN and COMMIT round trips; rows that need more
    than one statement are inserted in one transaction. Without multi-row RETURNING (old SQLite,
    other backends), rows are inserted one by one.

    ``ignore_conflicts``: a row whose unique key is stored already is skipped silently (a retried
    batch, a replayed journal), and no primary key is set — as ``bulk_create(ignore_conflicts=True)``.
    """
    if not instances:
        return
    model = type(instances[0])
    fields = _insert_fields(model)
    if not connection.features.can_return_rows_from_bulk_insert and not ignore_conflicts:
        with writing(), transaction.atomic():
            for instance in instances:
                insert(instance)
        return
    size = max(1, connection.ops.bulk_batch_size(list(fields), list(instances)))
    with writing(), transaction.atomic() if len(instances) > size else nullcontext():
        for start in range(0, len(instances), size):
            chunk = instances[start : start + size]
            params = _values(chunk, fields)
            with connection.cursor() as cursor:
                cursor.execute(_insert_sql(model, len(chunk), ignore_conflicts=ignore_conflicts), params)
                if ignore_conflicts:
                    continue
                keys = [row[0] for row in cursor.fetchall()]
            for instance, pk in zip(chunk, keys, strict=True):
                _inserted(instance, pk)


def update(model: type[Model], pk: int, values: Mapping[str, Any], *, where: Mapping[str, Any] | None = None) -> int:
    """UPDATE the row ``pk`` of ``model`` (and, when given, only while ``where``'s fields still match).

    Returns the number of rows changed (0 or 1), as ``QuerySet.update`` does.
    """
    names, guards = tuple(values), tuple(where or ())
    pk_field = model._meta.pk
    assert pk_field is not None

    def build() -> str:
        assignments = ", ".join(f"{column(model, name)} = %s" for name in names)
        conditions = [f"{connection.ops.quote_name(pk_field.column)} = %s"]
        conditions += [f"{column(model, name)} = %s" for name in guards]
        return f"UPDATE {table(model)} SET {assignments} WHERE {' AND '.join(conditions)}"

    sql = statement(("update", model, names, guards), build)
    params = [prepare(model, name, values[name]) for name in names]
    params.append(pk)
    params += [prepare(model, name, (where or {})[name]) for name in guards]
    with writing(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
