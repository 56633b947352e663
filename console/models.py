"""The console's own data: saved test events (private or shared, versioned) and test runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from invocations.models import Function, Team


class TestEvent(models.Model):
    """A saved test event of one function: private to its creator, or shared with the function's team."""

    __test__ = False  # not a pytest test class

    class Scope(models.TextChoices):
        PRIVATE = "private"
        SHARED = "shared"

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="test_events")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.PRIVATE)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="test_events")
    body = models.TextField()
    # Expectations (console/expectations.py; the API's ``Expect``): None = not part of the suite.
    expect = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Names are unique per function and scope: one shared namespace, one private per user.
            models.UniqueConstraint(
                fields=["function", "name"], condition=Q(scope="shared"), name="unique_shared_test_event"
            ),
            models.UniqueConstraint(
                fields=["function", "owner", "name"], condition=Q(scope="private"), name="unique_private_test_event"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TestEventVersion(models.Model):
    """One saved state of a shared event: every edit keeps the previous content (who, when)."""

    __test__ = False

    event = models.ForeignKey(TestEvent, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    body = models.TextField()
    expect = models.JSONField(null=True, blank=True)
    saved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["event", "number"], name="unique_test_event_version")]

    def __str__(self) -> str:
        return f"{self.event_id} v{self.number}"


class TestRun(models.Model):
    """A console Test press: the worker runs it (console/tasks.py) and the panel polls it."""

    __test__ = False

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"  # the Invocation row with request_id exists
        ERROR = "error"  # a platform error (throttled, runtime unavailable…): no function result

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=36, unique=True)
    qualifier = models.CharField(max_length=128, blank=True)
    invocation_type = models.CharField(max_length=16, default="RequestResponse")
    payload = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error_type = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.request_id


class SuiteSettings(models.Model):
    """A function's test-suite switches (one row once set)."""

    function = models.OneToOneField(Function, on_delete=models.CASCADE, related_name="suite_settings")
    # A code or configuration update of $LATEST starts the suite on $LATEST (console/services/suites.py).
    run_on_deploy = models.BooleanField(default=False)


class SuiteRun(models.Model):
    """One run of a function's events with expectations ("Run all", the CLI, a deploy): who, when,
    on which qualifier and code; its ``SuiteResult`` rows say how each event did."""

    class Status(models.TextChoices):
        RUNNING = "running"
        PASSED = "passed"  # every event's expectations held
        FAILED = "failed"  # at least one did not (or could not be run)

    class Trigger(models.TextChoices):
        CONSOLE = "console"
        API = "api"  # the workbench API and CLI
        DEPLOY = "deploy"

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="suite_runs")
    qualifier = models.CharField(max_length=128, default="$LATEST")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The team the starter acted in: another team's user runs a suite as a member of their own team
    # (a resource policy lets them invoke), not of the function's.
    started_in = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.CONSOLE)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    code_sha256 = models.CharField(max_length=64, blank=True)  # of the version the qualifier resolved to
    executed_version = models.CharField(max_length=16, blank=True)
    total = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["function", "-created_at"], name="suite_run_recent")]

    def __str__(self) -> str:
        return f"suite {self.pk} of {self.function_id}"


class SuiteResult(models.Model):
    """One event of a suite run: its expectations as run, its invocation and the verdict."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PASSED = "passed"
        FAILED = "failed"  # an expectation did not hold
        ERROR = "error"  # it could not be invoked (throttled, no runtime, function gone …)

    suite = models.ForeignKey(SuiteRun, on_delete=models.CASCADE, related_name="results")
    event = models.ForeignKey(TestEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event_name = models.CharField(max_length=100)
    event_scope = models.CharField(max_length=8, choices=TestEvent.Scope.choices, default=TestEvent.Scope.SHARED)
    body = models.TextField()  # the payload as sent (placeholders filled)
    expect = models.JSONField(default=dict)
    request_id = models.CharField(max_length=36, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    failures = models.JSONField(default=list)  # [Failure.to_json(), …]
    response = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event_name", "id"]

    def __str__(self) -> str:
        return f"{self.suite_id}/{self.event_name}"
