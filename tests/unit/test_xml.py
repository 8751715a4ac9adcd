from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vaultjobs.api.xml import render_xml


def parse(payload: dict[str, Any]) -> ET.Element:
    return ET.fromstring(render_xml(payload))


def test_root_and_scalars() -> None:
    root = parse({"responseStatus": "SUCCESS", "job_id": 7, "ok": True, "no": False})
    assert root.tag == "VaultResponse"
    assert root.findtext("responseStatus") == "SUCCESS"
    assert root.findtext("job_id") == "7"
    assert root.findtext("ok") == "true"
    assert root.findtext("no") == "false"


def test_lists_are_wrapped_and_named_by_key_without_s() -> None:
    root = parse(
        {
            "errors": [{"type": "INVALID_DATA", "message": "m"}],
            "links": [{"rel": "self"}, {"rel": "log"}],
            "jobs": [{"job_id": 1}],
            "tasks": [{"id": "Task1"}],
            "warnings": [{"type": "W"}],
        }
    )
    assert [e.findtext("type") for e in root.findall("errors/error")] == ["INVALID_DATA"]
    assert [e.findtext("rel") for e in root.findall("links/link")] == ["self", "log"]
    assert root.findtext("jobs/job/job_id") == "1"
    assert root.findtext("tasks/task/id") == "Task1"
    assert root.findtext("warnings/warning/type") == "W"


def test_data_and_progress_items() -> None:
    root = parse({"data": [{"id": 1}, {"id": 2}], "x": {"progress": [{"status": "SUCCESS", "size": 3}]}})
    assert [e.findtext("id") for e in root.findall("data/item")] == ["1", "2"]
    assert root.findtext("x/progress/item/size") == "3"


def test_nulls_are_omitted() -> None:
    root = parse({"data": {"id": 1, "run_end_date": None}})
    assert root.find("data/run_end_date") is None
    assert root.findtext("data/id") == "1"


def test_text_is_escaped_and_cannot_inject_markup() -> None:
    evil = '</message><type>SUCCESS</type><x a="1">&amp;\x00\x1b'
    root = parse({"errors": [{"type": "INVALID_DATA", "message": evil}]})
    errors = root.findall("errors/error")
    assert len(errors) == 1
    assert errors[0].findtext("type") == "INVALID_DATA"
    message = errors[0].findtext("message")
    assert message is not None and message.startswith('</message><type>SUCCESS</type><x a="1">&amp;')


def test_unsafe_keys_never_become_element_names() -> None:
    root = parse({"data": {"<script>": "x", "xmlish": "y", "a b": "z", "ok_key": "w"}})
    data = root.find("data")
    assert data is not None
    names = {child.get("name") for child in data.findall("entry")}
    assert names == {"<script>", "xmlish", "a b"}
    assert data.findtext("ok_key") == "w"


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=20,
    )
)
def test_anything_renders_as_well_formed_xml(value: Any) -> None:
    root = parse({"responseStatus": "SUCCESS", "data": value})
    assert root.findtext("responseStatus") == "SUCCESS"
