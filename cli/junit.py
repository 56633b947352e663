"""A suite run as JUnit XML, the report format CI systems read (Jenkins, GitLab, GitHub actions…).

One ``<testsuite>`` named ``<function>:<qualifier>``; one ``<testcase classname="<function>"
name="<event>">`` per event, its ``time`` the invocation's duration in seconds. An event whose
expectations did not hold has a ``<failure>`` (``message``: one ``Where: Message`` per failure;
text: the same with ``expected:`` and ``actual:`` lines); one that could not be invoked has an
``<error>``; one the run never reached (it was still pending) is ``<skipped>``. The invocation's
request id goes into ``<system-out>``, to find its record and logs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET


def _seconds(milliseconds: float | None) -> str:
    return f"{(milliseconds or 0) / 1000:.6f}"


def _elapsed(run: dict[str, Any]) -> str:
    if not run.get("CreatedAt") or not run.get("FinishedAt"):
        return "0.000"
    start, end = datetime.fromisoformat(run["CreatedAt"]), datetime.fromisoformat(run["FinishedAt"])
    return f"{max(0.0, (end - start).total_seconds()):.3f}"


def failure_text(failures: list[dict[str, Any]]) -> str:
    """Each failure as ``Where: Message`` with its expected and actual values indented below."""
    lines = []
    for failure in failures:
        lines.append(f"{failure['Where']}: {failure['Message']}")
        for label, key in (("expected", "Expected"), ("actual", "Actual")):
            if failure.get(key):
                value = str(failure[key]).replace("\n", "\n            ")
                lines.append(f"  {label + ':':10}{value}")
    return "\n".join(lines)


def junit_xml(run: dict[str, Any]) -> bytes:
    """The run (the workbench API's ``GET functions/{name}/suites/{id}``) as a JUnit XML document."""
    results = run["Results"]
    failures = sum(r["Status"] == "failed" for r in results)
    errors = sum(r["Status"] == "error" for r in results)
    skipped = sum(r["Status"] == "pending" for r in results)
    counts = {"tests": str(len(results)), "failures": str(failures), "errors": str(errors), "time": _elapsed(run)}
    root = ET.Element("testsuites", {"name": "workbench", **counts})
    suite = ET.SubElement(root, "testsuite", {
        "name": f"{run['FunctionName']}:{run['Qualifier']}", **counts, "skipped": str(skipped),
        "timestamp": (run.get("CreatedAt") or "").removesuffix("Z"),
    })  # fmt: skip
    properties = ET.SubElement(suite, "properties")
    for name, key in (("suite-run", "Id"), ("function", "FunctionName"), ("qualifier", "Qualifier"),
                      ("executed-version", "ExecutedVersion"), ("code-sha256", "CodeSha256"), ("trigger", "Trigger")):
        ET.SubElement(properties, "property", {"name": name, "value": str(run.get(key) or "")})
    for result in results:
        case = ET.SubElement(suite, "testcase", {"classname": run["FunctionName"], "name": result["EventName"],
                                                 "time": _seconds(result.get("DurationMs"))})  # fmt: skip
        status = result["Status"]
        message = "; ".join(f"{f['Where']}: {f['Message']}" for f in result.get("Failures") or [])
        if status == "failed":
            first = (result.get("Failures") or [{}])[0]
            element = ET.SubElement(case, "failure", {"message": message, "type": str(first.get("Where", "Expect"))})
            element.text = failure_text(result["Failures"])
        elif status == "error":
            element = ET.SubElement(case, "error", {"message": message or "could not be invoked", "type": "Invoke"})
            element.text = failure_text(result.get("Failures") or [])
        elif status == "pending":
            ET.SubElement(case, "skipped", {"message": "not run: the suite run had not reached it"})
        if result.get("RequestId"):
            ET.SubElement(case, "system-out").text = f"RequestId: {result['RequestId']}\n"
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
