"""The console's own data: saved test events (private or shared, versioned) and test runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from invocations.models import Function


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
