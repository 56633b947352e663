"""Teams become accounts (2/3): today's rows into the new model.

* A team named ``default`` (created if missing) gets the account id ``LAMBDA_ACCOUNT_ID``, so the
  ARNs of functions made through the API so far do not change; every other team gets a new one.
* Functions without a team (all those made through the API) go into the default team.
* Team members become ``developer`` (what a member could do until now); superusers ``admin``.
* Every access key moves into the default team and its user becomes a member there if they were
  not: until now a key could reach every function, and the functions its scripts made are there.
  Keys for other teams are made anew (``createaccesskey USER --team TEAM``).
* Event source mappings belong to their function's team.
* What worked without a policy keeps working, with the statements AWS would need: the two public
  statements for each ``NONE`` function URL, and a service statement for each schedule
  (``events.amazonaws.com``) and SNS trigger (``sns.amazonaws.com``).

The statements are written out here rather than imported, so this migration stays as it is when
the code that renders them changes.
"""

import re
import secrets

from django.conf import settings
from django.db import migrations

DEFAULT_TEAM = "default"
LATEST = "$LATEST"


def _new_account_id(taken: set[str]) -> str:
    while True:
        candidate = str(secrets.randbelow(9 * 10**11) + 10**11)
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _arn(account: str, name: str, qualifier: str) -> str:
    arn = f"arn:aws:lambda:{settings.LAMBDA_REGION}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def _policy_qualifier(qualifier: str) -> str:
    return "" if qualifier in ("", LATEST) else qualifier


def forward(apps, schema_editor):
    Team = apps.get_model("invocations", "Team")
    Membership = apps.get_model("invocations", "Membership")
    Function = apps.get_model("invocations", "Function")
    AccessKey = apps.get_model("invocations", "AccessKey")
    Mapping = apps.get_model("invocations", "EventSourceMapping")
    UrlConfig = apps.get_model("invocations", "FunctionUrlConfig")
    Trigger = apps.get_model("invocations", "Trigger")
    Statement = apps.get_model("invocations", "PolicyStatement")

    default = Team.objects.filter(name=DEFAULT_TEAM).first() or Team.objects.create(name=DEFAULT_TEAM)
    taken = {settings.LAMBDA_ACCOUNT_ID}
    for team in Team.objects.order_by("id"):
        team.account_id = settings.LAMBDA_ACCOUNT_ID if team.pk == default.pk else _new_account_id(taken)
        team.save(update_fields=["account_id"])

    def join(team, user):
        role = "admin" if user.is_superuser else "developer"
        Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})

    for team in Team.objects.all():
        for user in team.members.all():
            join(team, user)
    Function.objects.filter(team__isnull=True).update(team=default)
    for function in Function.objects.filter(team=default, owner__isnull=False).select_related("owner"):
        join(default, function.owner)
    for key in AccessKey.objects.select_related("user"):
        key.team = default
        key.save(update_fields=["team"])
        join(default, key.user)
    for mapping in Mapping.objects.select_related("function"):
        mapping.team_id = mapping.function.team_id
        mapping.save(update_fields=["team"])

    accounts = dict(Team.objects.values_list("id", "account_id"))

    def allow(function, qualifier, sid, statement):
        qualifier = _policy_qualifier(qualifier)
        resource = _arn(accounts[function.team_id], function.name, qualifier)
        Statement.objects.get_or_create(
            function=function, qualifier=qualifier, sid=sid,
            defaults={"statement": {"Sid": sid, "Effect": "Allow", **statement, "Resource": resource}},
        )

    for config in UrlConfig.objects.filter(auth_type="NONE").select_related("function"):
        allow(config.function, config.qualifier, "FunctionURLAllowPublicAccess", {
            "Principal": "*", "Action": "lambda:InvokeFunctionUrl",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
        })
        allow(config.function, config.qualifier, "FunctionURLAllowInvokeAction", {
            "Principal": "*", "Action": "lambda:InvokeFunction",
            "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
        })
    for trigger in Trigger.objects.filter(kind__in=["schedule", "sns"]).select_related("function"):
        account = accounts[trigger.function.team_id]
        if trigger.kind == "schedule":
            service, source = "events.amazonaws.com", f"arn:aws:events:{settings.LAMBDA_REGION}:{account}:rule/{trigger.name}"
        else:
            service, source = "sns.amazonaws.com", trigger.topic_arn
        sid = "workbench-trigger-" + re.sub(r"[^A-Za-z0-9_-]", "_", trigger.name)
        allow(trigger.function, trigger.qualifier, sid, {
            "Principal": {"Service": service}, "Action": "lambda:InvokeFunction",
            "Condition": {"ArnLike": {"AWS:SourceArn": source}},
        })


class Migration(migrations.Migration):

    dependencies = [("invocations", "0008_teams_as_accounts")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
