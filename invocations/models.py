"""The platform's data, named after AWS's own resources."""

from __future__ import annotations

import uuid

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

LATEST = "$LATEST"
# An invocation's large texts, kept apart from its row (``InvocationBody``).
BODY_FIELDS = ("payload", "response", "logs", "client_context")


def new_revision_id() -> str:
    return str(uuid.uuid4())


class AccessKey(models.Model):
    """An API credential of one user in one team, as an IAM user's key belongs to one account. The
    secret is stored encrypted (SigV4 needs it to recompute signatures)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_keys")
    team = models.ForeignKey("Team", on_delete=models.CASCADE, related_name="access_keys")
    access_key_id = models.CharField(max_length=32, unique=True)
    secret_encrypted = models.TextField()
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.access_key_id


class Team(models.Model):
    """A team is an AWS account: its own 12-digit account id in every ARN of its functions, its
    members IAM users with a role each (``Membership``), and no way into another team's functions
    but a resource-based policy (``PolicyStatement``)."""

    name = models.CharField(max_length=100, unique=True)
    account_id = models.CharField(max_length=12, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user is an IAM user in each team they belong to, with one role there (policy.py's table)."""

    class Role(models.TextChoices):
        ADMIN = "admin"
        DEVELOPER = "developer"
        TESTER = "tester"
        VIEWER = "viewer"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.team_id}:{self.role}"


class Function(models.Model):
    """A function of one team (its account); its configuration lives in FunctionVersion rows ($LATEST
    and published ones). Names are unique per team, as per account on AWS."""

    name = models.CharField(max_length=64)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="functions"
    )
    # PROTECT: deleting a team must not silently take its functions (and their history) with it.
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="functions")
    created_at = models.DateTimeField(default=timezone.now)
    # PutFunctionConcurrency; None = unreserved (the account pool).
    reserved_concurrency = models.PositiveIntegerField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # The number the next PublishVersion gets (versions are never reused, as AWS).
    next_version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_function_name_per_team")]

    def __str__(self) -> str:
        return self.name


class PolicyStatement(models.Model):
    """One statement of a function's resource-based policy (AddPermission), kept as AWS renders it.

    ``qualifier`` names the policy it belongs to: "" for the function's own (the unqualified ARN and
    ``$LATEST``), else a version number or an alias name — AWS keeps one policy per each, and a call
    is judged by the policy of exactly the resource it names.
    """

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="policy_statements")
    qualifier = models.CharField(max_length=128, blank=True)
    sid = models.CharField(max_length=100)
    statement = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function", "qualifier", "sid"], name="unique_policy_statement")
        ]

    def __str__(self) -> str:
        return f"{self.function_id}:{self.qualifier or '-'}:{self.sid}"


class FunctionVersion(models.Model):
    """The configuration and code of `$LATEST` (mutable) or of a published version (immutable)."""

    class State(models.TextChoices):
        PENDING = "Pending"
        ACTIVE = "Active"
        INACTIVE = "Inactive"
        FAILED = "Failed"

    class UpdateStatus(models.TextChoices):
        SUCCESSFUL = "Successful"
        FAILED = "Failed"
        IN_PROGRESS = "InProgress"

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=16)  # "$LATEST" or "1", "2", ...
    description = models.CharField(max_length=256, blank=True)
    runtime = models.CharField(max_length=32)
    handler = models.CharField(max_length=128)
    role = models.CharField(max_length=2048)
    timeout = models.PositiveIntegerField(default=3)
    memory_size = models.PositiveIntegerField(default=128)
    environment = models.JSONField(default=dict, blank=True)
    code_sha256 = models.CharField(max_length=64)  # base64 of the zip's SHA-256, as AWS reports it
    code_size = models.BigIntegerField(default=0)
    code_digest = models.CharField(max_length=64)  # hex SHA-256: names the unpacked code directory
    architectures = models.JSONField(default=list, blank=True)
    ephemeral_storage = models.PositiveIntegerField(default=512)
    tracing_mode = models.CharField(max_length=16, default="PassThrough")
    logging_config = models.JSONField(default=dict, blank=True)
    dead_letter_target_arn = models.CharField(max_length=350, blank=True)
    layers = models.JSONField(default=list, blank=True)
    package_type = models.CharField(max_length=8, default="Zip")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    state_reason = models.CharField(max_length=256, blank=True)
    state_reason_code = models.CharField(max_length=64, blank=True)
    last_update_status = models.CharField(
        max_length=16, choices=UpdateStatus.choices, default=UpdateStatus.SUCCESSFUL
    )
    revision_id = models.CharField(max_length=36, default=new_revision_id)
    last_modified = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "version"], name="unique_function_version")]

    def __str__(self) -> str:
        return f"{self.function.name}:{self.version}"


class Alias(models.Model):
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=128)
    function_version = models.CharField(max_length=16)
    description = models.CharField(max_length=256, blank=True)
    # {"AdditionalVersionWeights": {"2": 0.1}}
    routing_config = models.JSONField(default=dict, blank=True)
    revision_id = models.CharField(max_length=36, default=new_revision_id)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "name"], name="unique_function_alias")]

    def __str__(self) -> str:
        return f"{self.function.name}:{self.name}"


def _body_text(name: str) -> Any:
    """``Invocation.<name>``: the text kept in the invocation's ``InvocationBody``."""

    def read(self: Invocation) -> str:
        return getattr(self.body_row(), name)  # type: ignore[no-any-return]

    def write(self: Invocation, value: str) -> None:
        setattr(self.body_row(), name, value)

    return property(read, write, doc=f"The invocation's {name} (kept in its InvocationBody).")


class InvocationManager(models.Manager["Invocation"]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Invocation]:
        """The rows, then their bodies (those with a text) in the same transaction, the same way
        (``ignore_conflicts``, ``batch_size``): keyed by request id, bodies need no row ids.

        The recorder's call (``ignore_conflicts=True`` only) goes through fixed statements
        (``invocations/rows.py``): Django's INSERT compiler took ≈ 10 % of the web process's GIL
        time under load (bench/profile_invoke.py).
        """
        objs = list(objs)
        if not args and set(kwargs) <= {"ignore_conflicts", "batch_size"} and kwargs.get("ignore_conflicts"):
            from invocations import rows

            with transaction.atomic(using=self.db, savepoint=False):
                rows.insert_many(objs, ignore_conflicts=True)
                rows.insert_many([b for row in objs if (b := row.body_to_write()) is not None], ignore_conflicts=True)
            return objs
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            bodies = [body for row in objs if (body := row.body_to_write()) is not None]
            if bodies:
                InvocationBody.objects.bulk_create(
                    bodies, batch_size=kwargs.get("batch_size"), ignore_conflicts=kwargs.get("ignore_conflicts", False)
                )
        return created


class Invocation(models.Model):
    """One invocation, from any path. Written for every call, sync or async."""

    objects = InvocationManager()

    class Source(models.TextChoices):
        # Labels spelled out: TextChoices would title-case the names into "Api", "Cli", "Url".
        CONSOLE = "console", "Console"
        API = "api", "API"
        CLI = "cli", "CLI"
        URL = "url", "URL"
        TRIGGER = "trigger", "Trigger"
        ASYNC_RETRY = "async-retry", "Async retry"
        SUITE = "suite", "Suite"  # a saved event run by a test suite (console/services/suites.py)
        # An OnSuccess/OnFailure destination that is a function (destinations._invoke_function):
        # the DestinationDelivery that caused it points at it (``caused``).
        DESTINATION = "destination", "Destination"

    class Type(models.TextChoices):
        REQUEST_RESPONSE = "RequestResponse"
        EVENT = "Event"
        DRY_RUN = "DryRun"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # the function (or its runtime) reported an error
        TIMED_OUT = "timed-out"
        THROTTLED = "throttled"

    request_id = models.CharField(max_length=36, unique=True)
    # No index of its own: inv_function_counts (function, created_at, status) starts with it. Every
    # index is one more B-tree to update per invocation stored.
    function = models.ForeignKey(
        Function, null=True, on_delete=models.SET_NULL, related_name="invocations", db_index=False
    )
    function_name = models.CharField(max_length=64, db_index=True)
    # The account (team) of the function when it ran: a record outlives its function (``function``
    # becomes NULL), and its team still reads it, by name, until retention removes it.
    account_id = models.CharField(max_length=12, blank=True)
    qualifier = models.CharField(max_length=128, blank=True)  # as the caller named it
    executed_version = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    invocation_type = models.CharField(max_length=16, choices=Type.choices, default=Type.REQUEST_RESPONSE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    function_error = models.CharField(max_length=16, blank=True)  # "Unhandled" when the body is an error
    error_type = models.CharField(max_length=128, blank=True)
    # The CloudWatch log stream of the execution environment that ran it (YYYY/MM/DD/[version]<hex>,
    # AWS_LAMBDA_LOG_STREAM_NAME inside the function); empty when no environment ran it.
    log_stream = models.CharField(max_length=128, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    billed_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    init_duration_ms = models.FloatField(null=True, blank=True)
    memory_size_mb = models.PositiveIntegerField(null=True, blank=True)
    max_memory_used_mb = models.PositiveIntegerField(null=True, blank=True)
    cold_start = models.BooleanField(null=True, blank=True)
    code_sha256 = models.CharField(max_length=64, blank=True)
    # Event rows: attempts started so far (0 until a worker first claims it); other rows: 1.
    attempt = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Asynchronous events (services/async_events.py): a queued row is due at next_attempt_at (None =
    # now); dispatched_at is when its task was last published (the sweep republishes lost ones);
    # worker is the node running it (the sweep requeues a row whose worker died).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # The invocation record's condition once the event is final (Success, RetriesExhausted …).
    condition = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "-created_at"], name="inv_status_recent"),
            # The console's functions list counts each function's invocations and errors of the
            # last 24 h from this index alone (covering: no table reads); a function's history,
            # newest first, reads it backwards.
            models.Index(fields=["function", "created_at", "status"], name="inv_function_counts"),
            # The Logs tab lists a function's streams (newest event first) and reads one in order.
            models.Index(fields=["function", "log_stream", "finished_at"], name="inv_function_stream"),
        ]

    def __str__(self) -> str:
        return self.request_id

    # --- the large texts, kept in InvocationBody ---------------------------------------------------

    payload = _body_text("payload")
    response = _body_text("response")
    logs = _body_text("logs")
    client_context = _body_text("client_context")

    def body_row(self) -> InvocationBody:
        """This invocation's ``InvocationBody``: the one read with it (``select_related("body")``)
        or set on it, else read now; a new, unsaved one when it has none (an unsaved invocation, or
        a record whose texts were all empty — the recorder writes no body then)."""
        relation = self._meta.get_field("body")
        body: InvocationBody | None = None
        if relation.is_cached(self):  # type: ignore[union-attr]
            body = relation.get_cached_value(self)  # type: ignore[union-attr]
            if body is not None:
                return body  # type: ignore[no-any-return]
            # None: looked for (select_related, the reverse accessor) and there is none.
        elif not self._state.adding:
            body = InvocationBody.objects.filter(invocation_id=self.request_id).first()
        if body is None:
            body = InvocationBody(invocation_id=self.request_id)
        relation.set_cached_value(self, body)  # type: ignore[union-attr]
        return body

    def body_for_insert(self) -> InvocationBody:
        """The body to insert with this new record (even with empty texts), keyed by its request id."""
        body = self.body_row()
        body.invocation_id = self.request_id
        return body

    def body_to_write(self) -> InvocationBody | None:
        """The body to store with this record (keyed by its request id), or None when it has
        nothing to store: no text was set, or every text is empty."""
        relation = self._meta.get_field("body")
        body = relation.get_cached_value(self, None) if relation.is_cached(self) else None  # type: ignore[union-attr]
        if body is None or not any(getattr(body, name) for name in BODY_FIELDS if name not in body.get_deferred_fields()):
            return None
        body.invocation_id = self.request_id
        return body  # type: ignore[no-any-return]

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the row and, when its texts were set or read, its body (``update_fields`` may name
        body texts: they are saved on the body)."""
        update_fields = kwargs.get("update_fields")
        texts: list[str] | None = None
        if update_fields is not None:
            texts = [name for name in update_fields if name in BODY_FIELDS]
            kwargs["update_fields"] = [name for name in update_fields if name not in BODY_FIELDS]
        super().save(*args, **kwargs)
        if texts == []:
            return
        relation = self._meta.get_field("body")
        body = relation.get_cached_value(self, None) if relation.is_cached(self) else None  # type: ignore[union-attr]
        if body is None:
            return
        body.invocation_id = self.request_id
        if texts and not body._state.adding:
            body.save(update_fields=texts)
        else:
            body.save()


class InvocationBody(models.Model):
    """An invocation's payload, response, logs and client context, apart from its row.

    The history's lists, counts, the Monitor's rollups and the async claim read ``Invocation`` rows
    only: kept here, up to 6 MB of payload and response and 64 KB of logs per invocation never sit
    in the pages those scans read (SQLite stores a row's columns together; PostgreSQL's TOAST moves
    only values over ≈ 2 KB out of line). ``Invocation.payload`` & co. read and write it; a record
    whose texts are all empty has none. Keyed by request id, so the recorder writes bodies in the
    same batch as their rows without waiting for the rows' ids.
    """

    invocation = models.OneToOneField(
        Invocation, to_field="request_id", db_column="request_id", primary_key=True,
        on_delete=models.CASCADE, related_name="body",
    )  # fmt: skip
    payload = models.TextField(blank=True)
    response = models.TextField(blank=True)
    logs = models.TextField(blank=True)
    client_context = models.TextField(blank=True)

    def __str__(self) -> str:
        return str(self.invocation_id)


class InvocationAttempt(models.Model):
    """One run of an asynchronous event (the first attempt, retries, redeliveries after a crash)."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        TIMED_OUT = "timed-out"
        THROTTLED = "throttled"
        PLATFORM_ERROR = "platform-error"

    invocation = models.ForeignKey(Invocation, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    error_type = models.CharField(max_length=128, blank=True)
    executed_version = models.CharField(max_length=16, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the next attempt is due (None when this attempt was the last).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # This attempt's log tail (recorder.tail_of_logs): the event's own ``logs`` are the last
    # attempt's only, and a retried event is read to see why the earlier attempts failed.
    logs = models.TextField(blank=True)

    class Meta:
        ordering = ["invocation", "number", "id"]

    def __str__(self) -> str:
        return f"{self.invocation_id}#{self.number}"


class DestinationDelivery(models.Model):
    """An invocation record (or DLQ message) sent, or being sent, to a destination."""

    class Kind(models.TextChoices):
        ON_SUCCESS = "on-success"
        ON_FAILURE = "on-failure"
        DEAD_LETTER = "dead-letter"

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    invocation = models.ForeignKey(Invocation, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    destination = models.CharField(max_length=2048)
    condition = models.CharField(max_length=32, blank=True)  # Success | RetriesExhausted | EventAgeExceeded
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The exact message sent on every attempt (the invocation record, or the event for a DLQ).
    payload = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # A function destination: the invocation this delivery started (its source is "destination");
    # read back from that invocation as ``caused_by``.
    caused = models.ForeignKey(
        Invocation, null=True, blank=True, on_delete=models.SET_NULL, related_name="caused_by"
    )

    def __str__(self) -> str:
        return f"{self.kind} {self.destination}"


class EventInvokeConfig(models.Model):
    """Put/Get/Update/DeleteFunctionEventInvokeConfig, per function and qualifier."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="event_invoke_configs")
    qualifier = models.CharField(max_length=128, default=LATEST)  # "$LATEST", a version or an alias
    maximum_retry_attempts = models.PositiveSmallIntegerField(null=True, blank=True)  # None = default 2
    maximum_event_age_in_seconds = models.PositiveIntegerField(null=True, blank=True)  # None = 6 h
    on_success_destination = models.CharField(max_length=2048, blank=True)
    on_failure_destination = models.CharField(max_length=2048, blank=True)
    last_modified = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function", "qualifier"], name="unique_event_invoke_config")
        ]

    def __str__(self) -> str:
        return f"{self.function_id}:{self.qualifier}"


class FunctionUrlConfig(models.Model):
    """A function URL (Create/Get/Update/DeleteFunctionUrlConfig), unqualified or per alias."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="url_configs")
    qualifier = models.CharField(max_length=128, blank=True)  # "" = unqualified, else an alias name
    url_id = models.CharField(max_length=32, unique=True)
    auth_type = models.CharField(max_length=16)  # NONE | AWS_IAM
    cors = models.JSONField(default=dict, blank=True)
    invoke_mode = models.CharField(max_length=16, default="BUFFERED")  # BUFFERED | RESPONSE_STREAM
    creation_time = models.DateTimeField(default=timezone.now)
    last_modified_time = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "qualifier"], name="unique_function_url")]

    def __str__(self) -> str:
        return self.url_id


class EventSourceMapping(models.Model):
    """Create/Get/Update/Delete/ListEventSourceMapping(s): a queue or stream that invokes a function
    with batches of records (invocations/event_sources/)."""

    class State(models.TextChoices):
        CREATING = "Creating"
        ENABLING = "Enabling"
        ENABLED = "Enabled"
        DISABLING = "Disabling"
        DISABLED = "Disabled"
        UPDATING = "Updating"
        DELETING = "Deleting"

    uuid = models.CharField(max_length=36, unique=True)
    # The account that owns the mapping (its creator's team): it lists, changes and pays for it. The
    # function may be another team's, when that function's policy lets this account invoke it.
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="event_source_mappings")
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="event_source_mappings")
    qualifier = models.CharField(max_length=128, blank=True)  # "" = unqualified ($LATEST)
    # "sqs" | "kinesis" | "rabbitmq" — which poller reads it (from the ARN / source configuration).
    source_kind = models.CharField(max_length=16)
    event_source_arn = models.CharField(max_length=1024, blank=True)
    enabled = models.BooleanField(default=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CREATING)
    state_transition_reason = models.CharField(max_length=256, blank=True)
    batch_size = models.PositiveIntegerField()
    maximum_batching_window_in_seconds = models.PositiveIntegerField(default=0)
    starting_position = models.CharField(max_length=16, blank=True)  # TRIM_HORIZON | LATEST | AT_TIMESTAMP
    starting_position_timestamp = models.DateTimeField(null=True, blank=True)
    filter_criteria = models.JSONField(default=dict, blank=True)  # {"Filters": [{"Pattern": "…"}]}
    function_response_types = models.JSONField(default=list, blank=True)
    bisect_batch_on_function_error = models.BooleanField(default=False)
    maximum_retry_attempts = models.IntegerField(default=-1)  # -1 = infinite (streams)
    maximum_record_age_in_seconds = models.IntegerField(default=-1)
    parallelization_factor = models.PositiveSmallIntegerField(default=1)
    destination_config = models.JSONField(default=dict, blank=True)  # {"OnFailure": {"Destination": arn}}
    scaling_config = models.JSONField(default=dict, blank=True)  # {"MaximumConcurrency": n} (SQS)
    queues = models.JSONField(default=list, blank=True)  # RabbitMQ queue names (exactly one)
    source_access_configurations = models.JSONField(default=list, blank=True)
    # Where a non-AWS source lives (e.g. amqp://user:pass@host:5672/vhost for RabbitMQ).
    source_url = models.CharField(max_length=1024, blank=True)
    last_modified = models.DateTimeField(default=timezone.now)
    last_processing_result = models.CharField(max_length=64, default="No records processed")
    # What the console's Triggers tab shows (kept by invoke_batch, see event_sources/stats.py).
    records_processed = models.BigIntegerField(default=0)
    last_request_id = models.CharField(max_length=36, blank=True)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.uuid


class PollerLease(models.Model):
    """Who polls a queue or shard right now. A lease that is not renewed expires, so a poller
    that died (kill -9, lost machine) is replaced by another worker."""

    key = models.CharField(max_length=300, unique=True)  # "<mapping uuid>/<unit>" (unit: queue, shard id)
    holder = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key} → {self.holder}"


class StreamCheckpoint(models.Model):
    """The last sequence number processed per mapping and shard (a restart resumes after it)."""

    mapping = models.ForeignKey(EventSourceMapping, on_delete=models.CASCADE, related_name="checkpoints")
    shard_id = models.CharField(max_length=128)
    sequence_number = models.CharField(max_length=128, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mapping", "shard_id"], name="unique_stream_checkpoint")]

    def __str__(self) -> str:
        return f"{self.mapping_id}/{self.shard_id}@{self.sequence_number}"


class Trigger(models.Model):
    """Triggers that are not event source mappings: schedules and pushed events."""

    class Kind(models.TextChoices):
        SCHEDULE = "schedule"  # rate(…) / cron(…), EventBridge Scheduler style
        WEBHOOK = "webhook"  # any system POSTs an event to a per-trigger secret URL
        SNS = "sns"  # an SNS topic subscription delivering to the platform's HTTP endpoint

    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="triggers")
    qualifier = models.CharField(max_length=128, blank=True)
    enabled = models.BooleanField(default=True)
    schedule_expression = models.CharField(max_length=256, blank=True)
    payload = models.TextField(blank=True)  # a fixed event for schedules, when set
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    token = models.CharField(max_length=64, blank=True, db_index=True)  # secret path part of push URLs
    topic_arn = models.CharField(max_length=1024, blank=True)
    subscription_arn = models.CharField(max_length=1024, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Webhooks: the HMAC key of X-Workbench-Signature, encrypted like access keys (shown once).
    secret_encrypted = models.TextField(blank=True)
    # What the console's Triggers tab shows: events invoked, the last one and the last failure.
    invocation_count = models.BigIntegerField(default=0)
    last_request_id = models.CharField(max_length=36, blank=True)
    last_result = models.CharField(max_length=128, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "name"], name="unique_trigger_name")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


class Activity(models.Model):
    """The audit log: one row per change (code, configuration, URL, policy, triggers, shared events,
    keys, memberships …): who, when, through what, and what changed.

    Append-only: nothing in the platform updates or deletes a row (the admin shows it read-only), and
    a row outlives its function and its actor (their names are kept as text).
    """

    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="+")
    account_id = models.CharField(max_length=12)
    function = models.ForeignKey(Function, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    function_name = models.CharField(max_length=64, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=200)  # a username, a service principal, or "system"
    access_key_id = models.CharField(max_length=32, blank=True)
    via = models.CharField(max_length=16)  # api | console | cli | system
    action = models.CharField(max_length=64)  # as policy.py names it: lambda:UpdateFunctionCode …
    resource = models.CharField(max_length=2048, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["team", "-created_at"], name="activity_team_recent"),
            models.Index(fields=["function", "-created_at"], name="activity_function_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action}"


class WorkerHeartbeat(models.Model):
    """What each node (web process or Celery worker) can run; CreateFunction checks it."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16)  # "web" | "worker"
    runtimes = models.JSONField(default=list)
    seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


# Upper bounds (ms) of MetricMinute's duration buckets d00…d25; the last bucket has none. Roughly
# 1-2-3-5 steps: a percentile read from them is within one bucket's width (rollups.percentile).
DURATION_BOUNDS_MS = (
    1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
    1000, 1500, 2000, 3000, 5000, 10000, 30000, 60000,
)  # fmt: skip
DURATION_BUCKETS = tuple(f"d{index:02d}" for index in range(len(DURATION_BOUNDS_MS) + 1))


class MetricMinute(models.Model):
    """One function's (or, with ``function_name`` "", the whole account's) metrics for one bucket
    of ``level`` minutes (1, 5, 60 or 1440: ``rollups.LEVELS``) starting at ``minute``, as
    CloudWatch's Lambda metrics: added to as invocations are recorded (``invocations/rollups.py``),
    every level and the account row in the same statement, never recomputed from the records, so a
    chart reads at most ~300 of these whatever the invocation table holds. Keyed by name, as
    CloudWatch's ``FunctionName`` dimension: it outlives the function.
    """

    account_id = models.CharField(max_length=12)
    function_name = models.CharField(max_length=64)
    level = models.IntegerField(default=1)  # the bucket's length in minutes
    minute = models.BigIntegerField()  # its start, in minutes since the Unix epoch (UTC); a multiple of level
    invocations = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    throttles = models.BigIntegerField(default=0)
    cold_starts = models.BigIntegerField(default=0)
    duration_count = models.BigIntegerField(default=0)
    duration_sum_ms = models.FloatField(default=0)
    duration_max_ms = models.FloatField(default=0)
    max_concurrent = models.IntegerField(default=0)
    async_enqueued = models.BigIntegerField(default=0)
    async_processed = models.BigIntegerField(default=0)
    batches = models.BigIntegerField(default=0)
    batch_records = models.BigIntegerField(default=0)
    lag_count = models.BigIntegerField(default=0)
    lag_sum_ms = models.FloatField(default=0)
    lag_max_ms = models.FloatField(default=0)
    locals().update({name: models.BigIntegerField(default=0) for name in DURATION_BUCKETS})

    class Meta:
        constraints = [
            # A chart, the header summary: (account, function, level, bucket range) is one range scan.
            models.UniqueConstraint(fields=["account_id", "function_name", "level", "minute"], name="unique_metric_bucket")
        ]
        # The dashboard's per-function table: one account's buckets of one level across its functions.
        indexes = [models.Index(fields=["account_id", "level", "minute"], name="metric_account_level_minute")]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.function_name}@{self.minute}"


class CodeBlob(models.Model):
    """An uploaded zip, content-addressed: how a node gets code another node stored.

    ``services/code.py`` writes one whenever it stores a zip; a node whose ``LAMBDA_CODE_DIR`` lacks
    ``<digest>/`` fetches the blob and unpacks it before starting an environment. ``stored_at`` is
    refreshed when the same zip is stored again, so ``services/cleanup.prune_code`` spares it for
    the grace period like the files on disk.
    """

    digest = models.CharField(max_length=64, primary_key=True)  # hex SHA-256 of ``data``
    data = models.BinaryField()
    size = models.PositiveBigIntegerField()
    stored_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.digest


class ConcurrencyCounter(models.Model):
    """One row per shared concurrency counter (``fn:<id>`` or ``acct:<team id>``): the row a node
    locks while it counts and adds leases (invocations/concurrency.py, the database backend)."""

    key = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return self.key


class ConcurrencyLease(models.Model):
    """One unit of concurrency held by a node (web process or worker) until ``expires_at``; renewed
    while held, so a crashed node's leases expire by themselves (invocations/concurrency.py)."""

    token = models.CharField(max_length=200, unique=True)
    key = models.CharField(max_length=64)
    team_id = models.BigIntegerField()  # the account; no foreign key: a lease outlives nothing
    function_id = models.BigIntegerField(null=True, blank=True)  # set for reserved functions
    holder = models.CharField(max_length=200)  # host:pid:nonce
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["key", "expires_at"], name="concurrency_lease_key")]

    def __str__(self) -> str:
        return f"{self.key} {self.token} → {self.expires_at:%H:%M:%S}"
