"""Invocation payload, response, logs and client context move to ``InvocationBody`` (issue 16:
large payloads and logs kept out of the hot table).

The texts are copied in batches of ``BATCH`` ids (one INSERT … SELECT each, so no row is held in
Python); a record whose texts are all empty gets no body, as the recorder writes none for it.
"""

from django.db import migrations, models
import django.db.models.deletion

BATCH = 20_000
TEXTS = ("payload", "response", "logs", "client_context")


def _batches(schema_editor, table):
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN({quote('id')}), MAX({quote('id')}) FROM {quote(table)}")
        low, high = cursor.fetchone()
    if low is None:
        return
    for start in range(low - 1, high, BATCH):
        yield start, start + BATCH


def copy_out(apps, schema_editor):
    quote = schema_editor.connection.ops.quote_name
    rows, bodies = "invocations_invocation", "invocations_invocationbody"
    texts = ", ".join(quote(name) for name in TEXTS)
    any_text = " OR ".join(f"{quote(name)} <> ''" for name in TEXTS)
    sql = (
        f"INSERT INTO {quote(bodies)} ({quote('request_id')}, {texts}) "
        f"SELECT {quote('request_id')}, {texts} FROM {quote(rows)} "
        f"WHERE {quote('id')} > %s AND {quote('id')} <= %s AND ({any_text})"
    )
    with schema_editor.connection.cursor() as cursor:
        for start, end in _batches(schema_editor, rows):
            cursor.execute(sql, [start, end])


def copy_back(apps, schema_editor):
    quote = schema_editor.connection.ops.quote_name
    rows, bodies = "invocations_invocation", "invocations_invocationbody"
    assignments = ", ".join(
        f"{quote(name)} = COALESCE((SELECT b.{quote(name)} FROM {quote(bodies)} b "
        f"WHERE b.{quote('request_id')} = {quote(rows)}.{quote('request_id')}), '')"
        for name in TEXTS
    )
    with schema_editor.connection.cursor() as cursor:
        for start, end in _batches(schema_editor, rows):
            cursor.execute(f"UPDATE {quote(rows)} SET {assignments} WHERE {quote('id')} > %s AND {quote('id')} <= %s",
                           [start, end])


class Migration(migrations.Migration):
    dependencies = [
        ("invocations", "0018_codeblob"),
    ]

    operations = [
        migrations.CreateModel(
            name="InvocationBody",
            fields=[
                (
                    "invocation",
                    models.OneToOneField(
                        db_column="request_id",
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="body",
                        serialize=False,
                        to="invocations.invocation",
                        to_field="request_id",
                    ),
                ),
                ("payload", models.TextField(blank=True)),
                ("response", models.TextField(blank=True)),
                ("logs", models.TextField(blank=True)),
                ("client_context", models.TextField(blank=True)),
            ],
        ),
        migrations.RunPython(copy_out, copy_back),
        migrations.RemoveField(model_name="invocation", name="payload"),
        migrations.RemoveField(model_name="invocation", name="response"),
        migrations.RemoveField(model_name="invocation", name="logs"),
        migrations.RemoveField(model_name="invocation", name="client_context"),
    ]
