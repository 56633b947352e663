"""Side-by-side diffs: line kinds and the changed characters."""

from __future__ import annotations

from console.diffs import normalise_logs, pretty_value, side_by_side


def test_changed_lines_mark_only_the_characters_that_differ() -> None:
    rows = side_by_side("a\nok 3\nz", "a\nok 2\nz\nextra")
    assert [row.kind for row in rows] == ["same", "changed", "same", "right-only"]
    assert rows[1].left_parts == (("ok ", False), ("3", True)) and rows[1].right_parts == (("ok ", False), ("2", True))


def test_json_is_indented_with_sorted_keys_so_that_lines_line_up_and_text_stays_text() -> None:
    assert pretty_value('{"b": 1, "a": [1]}') == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}'
    assert pretty_value('"ok"') == '"ok"' and pretty_value("≤ 100 ms") == "≤ 100 ms"


A_ID, B_ID = "11111111-aaaa-4aaa-8aaa-111111111111", "22222222-bbbb-4bbb-8bbb-222222222222"


def logs(request_id: str, *, duration: str, at: str, memory: int = 128, line: str = "hello") -> str:
    return (
        f"START RequestId: {request_id} Version: $LATEST\n"
        f"{at}\t{request_id}\t{line}\n"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration} ms\tBilled Duration: 4 ms\t"
        f"Memory Size: {memory} MB\tMax Memory Used: 41 MB\tInit Duration: 80.12 ms\t"
    )


def test_two_runs_of_the_same_code_differ_in_nothing_once_normalised() -> None:
    a = normalise_logs(logs(A_ID, duration="3.21", at="2026-12-07T14:03:05.123Z"), (A_ID, B_ID))
    b = normalise_logs(logs(B_ID, duration="17.50", at="2026-12-07T14:09:59.001Z"), (A_ID, B_ID))
    assert a == b
    assert "START RequestId: <request-id> Version: $LATEST" in a and "<time>\t<request-id>\thello" in a
    assert "Duration: <n> ms\tBilled Duration: <n> ms\tMemory Size: 128 MB\tMax Memory Used: <n> MB\tInit Duration: <n> ms" in a
    assert [row.kind for row in side_by_side(a, b)] == ["same"] * 4


def test_real_differences_stay_marked_after_normalising() -> None:
    a = normalise_logs(logs(A_ID, duration="3", at="2026-12-07T14:03:05Z", line="ok 1"), (A_ID, B_ID))
    b = normalise_logs(logs(B_ID, duration="4", at="2026-12-07T14:03:06Z", line="ok 2", memory=256), (A_ID, B_ID))
    rows = side_by_side(a, b)
    assert [row.kind for row in rows] == ["same", "changed", "same", "changed"]
    assert rows[1].left_parts[-1] == ("1", True)
    assert any(changed for _, changed in rows[3].left_parts)  # Memory Size is configuration: a real difference
    assert rows[3].left.count("<n>") == 4


def test_only_report_lines_lose_their_numbers() -> None:
    text = "Duration: 5 ms said the function\nREPORT RequestId: x\tDuration: 5.00 ms\t"
    assert normalise_logs(text, ()) == "Duration: 5 ms said the function\nREPORT RequestId: x\tDuration: <n> ms\t"
