"""Uploaded zips in the database (CodeBlob), so every node can run code another node stored.

Existing installations had them only on disk: the zips found in LAMBDA_CODE_DIR for code some
version still uses are copied in (a node without them could not run those functions otherwise).
"""

import hashlib
from pathlib import Path

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def copy_zips_from_disk(apps, schema_editor):
    FunctionVersion = apps.get_model("invocations", "FunctionVersion")
    CodeBlob = apps.get_model("invocations", "CodeBlob")
    root = Path(settings.LAMBDA_CODE_DIR)
    for digest in FunctionVersion.objects.values_list("code_digest", flat=True).distinct().iterator():
        path = root / f"{digest}.zip"
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == digest:
            CodeBlob.objects.get_or_create(digest=digest, defaults={"data": data, "size": len(data)})


class Migration(migrations.Migration):
    dependencies = [
        ("invocations", "0017_concurrency_leases"),
    ]

    operations = [
        migrations.CreateModel(
            name="CodeBlob",
            fields=[
                ("digest", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("data", models.BinaryField()),
                ("size", models.PositiveBigIntegerField()),
                ("stored_at", models.DateTimeField(default=timezone.now)),
            ],
        ),
        migrations.RunPython(copy_zips_from_disk, migrations.RunPython.noop),
    ]
