"""Generic JSON flattening: nested objects become dotted field names, values keep their JSON types.

Used for JSON records no specific parser recognises, and by the format parsers for nested values below a leaf.
"""

from __future__ import annotations

from typing import Any


def flatten_into(value: Any, name: str, out: dict[str, Any]) -> None:
    """Write ``value`` into ``out`` under ``name``, flattening nested objects into ``name.child`` keys.

    A list of scalars stays one multi-valued field. A list holding objects is flattened element by element and
    each resulting dotted name collects its values in a list (``resources.ARN: [a, b]``), so a rule field name
    is always one key whose value is a scalar or a list of scalars.
    """
    if type(value) is dict:
        if not value:
            return
        for key, child in value.items():
            flatten_into(child, f"{name}.{key}" if name else key, out)
    elif type(value) is list:
        _flatten_list(value, name, out)
    else:
        out[name] = value


def _flatten_list(items: list[Any], name: str, out: dict[str, Any]) -> None:
    scalars: list[Any] = []
    nested: dict[str, list[Any]] = {}
    for item in items:
        if type(item) is dict or type(item) is list:
            part: dict[str, Any] = {}
            flatten_into(item, name, part)
            for key, val in part.items():
                if key == name:
                    (scalars.extend if type(val) is list else scalars.append)(val)
                else:
                    (nested.setdefault(key, []).extend if type(val) is list
                     else nested.setdefault(key, []).append)(val)
        else:
            scalars.append(item)
    if scalars or not nested:
        out[name] = scalars
    out.update(nested)


def flatten_json(obj: dict[str, Any]) -> dict[str, Any]:
    """Flatten one JSON object into dotted field names (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if type(value) is dict or type(value) is list:
            flatten_into(value, key, out)
        else:
            out[key] = value
    return out
