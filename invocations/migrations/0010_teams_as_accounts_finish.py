"""Teams become accounts (3/3): members through ``Membership``, and every team, function, key and
mapping in exactly one account."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("invocations", "0009_teams_as_accounts_data"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveField(model_name="team", name="members"),
        migrations.AddField(
            model_name="team",
            name="members",
            field=models.ManyToManyField(blank=True, related_name="teams", through="invocations.Membership", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name="team", name="account_id", field=models.CharField(max_length=12, unique=True)
        ),
        migrations.AlterField(
            model_name="function",
            name="team",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="functions", to="invocations.team"),
        ),
        migrations.AlterField(
            model_name="accesskey",
            name="team",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="access_keys", to="invocations.team"),
        ),
        migrations.AlterField(
            model_name="eventsourcemapping",
            name="team",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="event_source_mappings", to="invocations.team"),
        ),
        migrations.AddConstraint(
            model_name="function",
            constraint=models.UniqueConstraint(fields=("team", "name"), name="unique_function_name_per_team"),
        ),
    ]
