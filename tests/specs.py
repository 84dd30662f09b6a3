"""The vendors' API descriptions (tests/vendor/) as self-contained JSON Schemas.

`schema("sieve", "Job")` gives a component/definition with every `$ref` inlined and OpenAPI's
dialect turned into plain JSON Schema (`nullable`, `x-*`, examples dropped), usable both by
`jsonschema` validators and by `hypothesis_jsonschema.from_schema`.
`response_schema("prunner", "/job/detail", "get", 200)` gives the schema of a documented response.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

VENDOR = Path(__file__).parent / "vendor"
FILES = {
    "sieve": "sieve-openapi.json",
    "pixxel": "pixxel-openapi.json",
    "prunner": "prunner-swagger.yml",
}
_DROP = {"example", "examples", "externalDocs", "xml", "discriminator", "readOnly", "writeOnly"}


@cache
def load_spec(backend: str) -> dict[str, Any]:
    path = VENDOR / FILES[backend]
    text = path.read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return data


def _definitions(spec: dict[str, Any]) -> dict[str, Any]:
    if "components" in spec:
        return dict(spec["components"].get("schemas", {}))
    return dict(spec.get("definitions", {}))


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _plain(spec: dict[str, Any], node: Any, seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, list):
        return [_plain(spec, item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:  # recursive: stop with "anything"
            return {}
        return _plain(spec, _resolve(spec, ref), (*seen, ref))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-") or key in _DROP or key == "nullable":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _plain(spec, sub, seen) for name, sub in value.items()}
        else:
            out[key] = _plain(spec, value, seen)
    if node.get("nullable") is True:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _schema(backend: str, name: str) -> dict[str, Any]:
    spec = load_spec(backend)
    definitions = _definitions(spec)
    if name not in definitions:
        raise KeyError(f"{backend}: no schema named {name!r}; have {sorted(definitions)}")
    result: dict[str, Any] = _plain(spec, definitions[name])
    return result


def schema(backend: str, name: str) -> dict[str, Any]:
    """A component (OpenAPI 3) or definition (Swagger 2) as plain JSON Schema (a fresh copy)."""
    return copy.deepcopy(_schema(backend, name))


def response_schema(backend: str, path: str, method: str, status: int | str) -> dict[str, Any]:
    """The JSON Schema of a documented response body (OpenAPI 3 or Swagger 2)."""
    spec = load_spec(backend)
    responses = spec["paths"][path][method.lower()]["responses"]
    response = responses.get(str(status)) or responses.get(status) or responses["default"]
    if "$ref" in response:
        response = _resolve(spec, response["$ref"])
    if "content" in response:
        body = response["content"].get("application/json") or next(
            iter(response["content"].values())
        )
        node = body.get("schema", {})
    else:
        node = response.get("schema", {})
    result: dict[str, Any] = _plain(spec, node)
    return result


def allow_null(node: dict[str, Any], *properties: str) -> dict[str, Any]:
    """Let `properties` of an object schema also be null (for fields a spec wrongly marks
    non-nullable, e.g. prunner's `start`/`end`). Returns the changed copy."""
    changed = copy.deepcopy(node)
    for name in properties:
        changed["properties"][name] = {"anyOf": [changed["properties"][name], {"type": "null"}]}
    return changed


# -- hypothesis strategies from schemas -------------------------------------------------------
# hypothesis-jsonschema does not work with current hypothesis, and the vendors' schemas use a
# small subset of JSON Schema, so this covers that subset: types (incl. lists of types), anyOf,
# oneOf, enum, const, properties/required, additionalProperties, items, date-time strings.


def _json_strategy(max_leaves: int = 12) -> Any:
    """Any JSON value; a small `max_leaves` for a field's value of the wrong type, where the
    reader looks at the type and not far into it (and a smaller value costs less to draw)."""
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=max_leaves,
    )


def strategy(node: dict[str, Any], *, optional_fields: bool = True) -> Any:
    """A hypothesis strategy for instances of a plain JSON Schema (see `schema()`).
    With `optional_fields`, properties not listed in `required` may be left out."""
    from hypothesis import strategies as st

    if not isinstance(node, dict) or not node:
        return _json_strategy()
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return st.one_of([strategy(sub, optional_fields=optional_fields) for sub in node[key]])
    kind = node.get("type")
    if isinstance(kind, list):
        return st.one_of(
            [strategy({**node, "type": k}, optional_fields=optional_fields) for k in kind]
        )
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(min_value=node.get("minimum"), max_value=node.get("maximum"))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "string":
        if node.get("format") == "date-time":
            return st.datetimes(timezones=st.none() | st.just(__import__("datetime").UTC)).map(
                lambda d: d.isoformat()
            ) | st.just("")
        return st.text(max_size=40)
    if kind == "array":
        return st.lists(
            strategy(node.get("items", {}), optional_fields=optional_fields), max_size=5
        )
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        required = set(node.get("required", [] if optional_fields else list(props)))
        fixed = {
            k: strategy(v, optional_fields=optional_fields)
            for k, v in props.items()
            if k in required
        }
        optional = {
            k: strategy(v, optional_fields=optional_fields)
            for k, v in props.items()
            if k not in required
        }
        base = st.fixed_dictionaries(fixed, optional=optional)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and not props:
            return st.dictionaries(st.text(max_size=10), strategy(extra), max_size=4)
        return base
    return _json_strategy()
