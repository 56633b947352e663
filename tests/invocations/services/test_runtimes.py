"""Runtimes on offer: the union of what nodes reported in the last ten minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from invocations.errors import InvalidParameterValueException, ValidationException
from invocations.models import WorkerHeartbeat
from invocations.services import runtimes

pytestmark = pytest.mark.django_db


def test_it_unites_the_runtimes_of_recent_nodes_and_forgets_old_ones() -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(name="web-1", kind="web", runtimes=["python3.11"], seen_at=now)
    WorkerHeartbeat.objects.create(name="worker-1", kind="worker", runtimes=["nodejs20.x"], seen_at=now)
    WorkerHeartbeat.objects.create(
        name="gone", kind="worker", runtimes=["python3.13"], seen_at=now - timedelta(minutes=11)
    )
    assert runtimes.available_runtimes() == {"python3.11", "nodejs20.x"}


def test_an_unknown_name_is_a_validation_error_even_with_no_nodes() -> None:
    with pytest.raises(ValidationException) as caught:
        runtimes.check_runtime("cobol85")
    assert "Value 'cobol85' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set" in str(
        caught.value
    )


def test_a_real_runtime_no_node_offers_is_an_invalid_parameter() -> None:
    WorkerHeartbeat.objects.create(name="web-1", kind="web", runtimes=["python3.11"])
    with pytest.raises(InvalidParameterValueException) as caught:
        runtimes.check_runtime("python3.13")
    assert str(caught.value).startswith("The runtime parameter of python3.13 is not supported")
    assert runtimes.check_runtime("python3.11") == "python3.11"
