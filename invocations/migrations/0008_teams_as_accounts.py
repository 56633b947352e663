"""Teams become accounts (1/3): the new tables and nullable columns. 0009 fills them from today's
rows, 0010 makes them required. Three migrations, so that PostgreSQL changes no table in the
transaction that updated its rows."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("invocations", "0007_fewer_invocation_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="team", name="account_id", field=models.CharField(max_length=12, null=True)
        ),
        migrations.CreateModel(
            name="Membership",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("role", models.CharField(choices=[("admin", "Admin"), ("developer", "Developer"), ("tester", "Tester"), ("viewer", "Viewer")], max_length=16)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("team", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="memberships", to="invocations.team")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="memberships", to=settings.AUTH_USER_MODEL)),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("team", "user"), name="unique_membership")]},
        ),
        migrations.CreateModel(
            name="PolicyStatement",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("qualifier", models.CharField(blank=True, max_length=128)),
                ("sid", models.CharField(max_length=100)),
                ("statement", models.JSONField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("function", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="policy_statements", to="invocations.function")),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("function", "qualifier", "sid"), name="unique_policy_statement")]},
        ),
        migrations.CreateModel(
            name="Activity",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("account_id", models.CharField(max_length=12)),
                ("function_name", models.CharField(blank=True, max_length=64)),
                ("actor_name", models.CharField(max_length=200)),
                ("access_key_id", models.CharField(blank=True, max_length=32)),
                ("via", models.CharField(max_length=16)),
                ("action", models.CharField(max_length=64)),
                ("resource", models.CharField(blank=True, max_length=2048)),
                ("changes", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("actor", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("function", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="invocations.function")),
                ("team", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="invocations.team")),
            ],
            options={
                "indexes": [
                    models.Index(fields=["team", "-created_at"], name="activity_team_recent"),
                    models.Index(fields=["function", "-created_at"], name="activity_function_recent"),
                ]
            },
        ),
        migrations.AddField(
            model_name="accesskey",
            name="team",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="access_keys", to="invocations.team"),
        ),
        migrations.AddField(
            model_name="eventsourcemapping",
            name="team",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="event_source_mappings", to="invocations.team"),
        ),
        migrations.AlterField(model_name="function", name="name", field=models.CharField(max_length=64)),
    ]
