from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_accounts(apps, schema_editor):
    """Existing records take their function's account; records of functions already deleted stay
    without one (only superusers read those, as before)."""
    Invocation = apps.get_model("invocations", "Invocation")
    Function = apps.get_model("invocations", "Function")
    account = Function.objects.filter(pk=OuterRef("function_id")).values("team__account_id")[:1]
    Invocation.objects.exclude(function=None).update(account_id=Subquery(account))


class Migration(migrations.Migration):
    dependencies = [
        ("invocations", "0010_teams_as_accounts_finish"),
    ]

    operations = [
        migrations.AddField(
            model_name="invocation",
            name="account_id",
            field=models.CharField(blank=True, max_length=12),
        ),
        migrations.RunPython(fill_accounts, migrations.RunPython.noop),
    ]
