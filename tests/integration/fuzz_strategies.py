"""Hypothesis strategies for hostile input: FHIR bundles and form posts a careless or malicious
client might send.

A hostile bundle starts from a valid one (``fhir_gen.bundles``, its Patient born on the day of
``api_support.PATIENT`` so that the import reaches its writes) and is mutated: a field of the
wrong type, a string of about 1 MB, an extension or array nested about 1,000 levels deep, an
impossible or future date, odd unicode (escaped lone surrogates, NUL, right-to-left marks),
duplicate resource ids and fullUrls, references to resources that are not there, resource types
R4 does not have, or a removed field; or it is not a bundle at all (bytes that are not JSON,
truncated JSON, JSON that is not an object).

A hostile form post starts from a valid form and replaces fields with empty, huge, unicode,
negative, NaN/inf, 1e309 or out-of-range date strings, adds unknown or repeated fields, or drops
fields. Bodies are built as bytes, so a field may also hold bytes that are not UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

from tests.integration.fhir_gen import bundles

JSON = dict[str, Any]
Path = tuple[str | int, ...]

# Built once: each is about 1 MB, and hypothesis draws them often.
HUGE_TEXTS = ("x" * 1_000_000, "9" * 1_000_000, "\u00e9" * 500_000, "\u05d0\u202e" * 300_000)
# Levels of nesting: an extension takes two a level (object and array), so 500 of them and 1,000
# arrays come close to orjson's limit of 1,024 levels; the last three pass it. 20 and 50
# extensions are a valid resource, 120 pass the 255 levels orjson writes out.
# The first ones are what hypothesis tries first: the depths that reach the readers.
DEPTHS = (500, 1_000, 120, 20, 50, 505, 1_015, 1_030, 20_000)
_DEEP = "@@deep-nesting@@"

INVALID_DATES = (
    "2026-02-30",
    "2026-02-29",
    "2026-13-01",
    "2026-00-10",
    "99999-01-01",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "2026-11-01T25:61:00Z",
    "2026-11-01T09:00:00+14:00",
    "2026-11-01T09:00:00-12:00",
    "2026-11-01T09:00:00",
    "2026-11-01T09:00:00.1234567890123Z",
    "20261101",
    "2026-W44-7",
    "",
    " 2026-11-01",
    # In the future of the clinic's day (2026-11-01).
    "2026-11-02",
    "2026-12",
    "2027",
    "2099-01-01T00:00:00Z",
    "3000-01-01",
)
ODD_TEXTS = (
    "\u202eevil.exe",
    "\u200f\u200e\u200b",
    "\x00",
    "a\x00b",
    "\ufeffBOM",
    "\U0001f9e0\U0001f48a",
    "\u0661\u0662\u0663",
    "\u00bd",
    "\u00b2",
    "\ufdfa",
    "e\u0301\u0301\u0301",
    "\r\n\t",
    "<script>alert(1)</script>",
    "'; DROP TABLE patients; --",
    "%00%ff",
    "{{ 7*7 }}",
)
# Lone surrogates: JSON can escape them (\ud800) although no UTF-8 text can hold them.
SURROGATES = ("\ud800", "a\udfffb", "\udbff\udc00\udc00")
WRONG_TYPES: tuple[object, ...] = (
    0,
    -1,
    1.5,
    10**30,
    10**400,
    1e308,
    float("nan"),
    float("inf"),
    True,
    False,
    None,
    [],
    [None],
    {},
    {"value": "x"},
    "",
    "0",
)
DATE_KEYS = (
    "birthDate",
    "onsetDateTime",
    "abatementDateTime",
    "recordedDate",
    "effectiveDateTime",
    "performedDateTime",
    "start",
    "end",
)


@dataclass(frozen=True)
class Hostile:
    """A request body and what was done to make it, for the failure message."""

    what: str
    data: bytes

    def __repr__(self) -> str:
        # A failing example names its mutations and shows only the start of a 1 MB body.
        shown = self.data[:300]
        more = f" ... ({len(self.data)} bytes)" if len(self.data) > 300 else ""
        return f"Hostile({self.what!r}, {shown!r}{more})"


# --- FHIR bundles -----------------------------------------------------------------------------


def _paths(value: object, path: Path = ()) -> list[Path]:
    """Every place in a JSON tree below the root, parents before children."""
    found: list[Path] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*path, key))
            found.extend(_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*path, index))
            found.extend(_paths(item, (*path, index)))
    return found


def _at(tree: Any, path: Path) -> Any:
    for step in path:
        tree = tree[step]
    return tree


def _put(tree: Any, path: Path, value: object) -> None:
    _at(tree, path[:-1])[path[-1]] = value


def _strings(tree: JSON) -> list[Path]:
    return [p for p in _paths(tree) if isinstance(_at(tree, p), str)]


def _entries(bundle: JSON) -> list[JSON]:
    """The entries still shaped as entries: an earlier mutation may have broken any of them."""
    entries = bundle.get("entry")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _resources(bundle: JSON) -> list[JSON]:
    return [e["resource"] for e in _entries(bundle) if isinstance(e.get("resource"), dict)]


def _pick(draw: st.DrawFn, choices: list[Any]) -> Any:
    """One of ``choices``, or None when an earlier mutation left none."""
    return draw(st.sampled_from(choices)) if choices else None


@st.composite
def _wrong_type(draw: st.DrawFn, bundle: JSON) -> str:
    path = _pick(draw, _paths(bundle))
    if path is None:
        return "no field left"
    value = draw(st.sampled_from(WRONG_TYPES))
    _put(bundle, path, value)
    return f"{path} = {value!r:.40}"


@st.composite
def _huge_string(draw: st.DrawFn, bundle: JSON) -> str:
    path = _pick(draw, _strings(bundle))
    if path is None:
        return "no string left"
    _put(bundle, path, draw(st.sampled_from(HUGE_TEXTS)))
    return f"{path} = ~1 MB string"


@st.composite
def _deep(draw: st.DrawFn, bundle: JSON) -> str:
    if not isinstance(bundle.get("entry"), list):
        bundle["entry"] = _DEEP
        return "Bundle.entry nested"
    # A clinical resource, which the import stores (the Patient is only read): the simplest
    # bundle has none, so one is added.
    clinical = [r for r in _resources(bundle) if r.get("resourceType") != "Patient"]
    resource = _pick(draw, clinical)
    if resource is None:
        resource = {"resourceType": "Condition", "id": "deep", "code": {"text": "Deep"}}
        resource["subject"] = {"reference": "Patient/gen-patient"}
        bundle["entry"].append({"fullUrl": "urn:uuid:deep", "resource": resource})
    place = draw(st.sampled_from(["extension", "modifierExtension", "_status", "note", "other"]))
    # In a list, a chain of extensions is valid R4 however deep it goes.
    resource[place] = _DEEP if "xtension" not in place or draw(st.booleans()) else [_DEEP]
    return f"{resource.get('resourceType')!r}.{place} nested"


@st.composite
def _bad_date(draw: st.DrawFn, bundle: JSON) -> str:
    dated = [p for p in _strings(bundle) if p[-1] in DATE_KEYS]
    path = _pick(draw, dated)
    if path is None:
        return "no date left"
    value = draw(st.sampled_from(INVALID_DATES))
    _put(bundle, path, value)
    return f"{path} = {value!r}"


@st.composite
def _odd_text(draw: st.DrawFn, bundle: JSON) -> str:
    path = _pick(draw, _strings(bundle))
    if path is None:
        return "no string left"
    value = draw(
        st.one_of(
            st.sampled_from(ODD_TEXTS + SURROGATES),
            st.text(st.characters(codec=None), max_size=30),
        )
    )
    if draw(st.booleans()):
        value = str(_at(bundle, path)) + value
    _put(bundle, path, value)
    return f"{path} = {value!r}"


@st.composite
def _nul(draw: st.DrawFn, bundle: JSON) -> str:
    # Its own mutation, not only one odd text among many: PostgreSQL refuses it in any text.
    # Mostly in a field the record keeps in a column of its own, where it would reach the store.
    strings = _strings(bundle)
    kept = [p for p in strings if p[-1] in ("code", "display", "text", "unit")]
    in_kept: bool = draw(st.booleans())
    path = _pick(draw, kept if kept and in_kept else strings)
    if path is None:
        return "no string left"
    _put(bundle, path, str(_at(bundle, path)) + "\x00")
    return f"{path} ends in NUL"


@st.composite
def _duplicate_ids(draw: st.DrawFn, bundle: JSON) -> str:
    entries = _entries(bundle)
    if not entries:
        return "no entry left"
    first, second = _pick(draw, entries), _pick(draw, entries)
    what = draw(st.sampled_from(["id", "fullUrl", "both", "copy"]))
    if what == "copy":
        bundle["entry"].append(json.loads(json.dumps(first)))
        return "an entry repeated"
    if what in ("id", "both") and isinstance(second.get("resource"), dict):
        second["resource"]["id"] = (first.get("resource") or {}).get("id", "gen-patient")
    if what in ("fullUrl", "both"):
        second["fullUrl"] = first.get("fullUrl")
    return f"an entry takes another's {what}"


@st.composite
def _missing_reference(draw: st.DrawFn, bundle: JSON) -> str:
    resource = _pick(draw, _resources(bundle))
    if resource is None:
        return "no resource left"
    target = draw(
        st.sampled_from(
            [
                "Patient/nobody",
                "urn:uuid:00000000-0000-0000-0000-000000000000",
                "Medication/missing",
                "#not-contained",
                "",
                "http://elsewhere.example/fhir/Patient/gen-patient",
                "Patient/gen-patient/_history/999",
            ]
        )
    )
    key = draw(st.sampled_from(["subject", "patient", "medicationReference", "hasMember"]))
    resource[key] = [{"reference": target}] if key == "hasMember" else {"reference": target}
    return f"{resource.get('resourceType')!r}.{key} -> {target!r}"


@st.composite
def _foreign_resource(draw: st.DrawFn, bundle: JSON) -> str:
    kind = draw(
        st.sampled_from(
            [
                "Banana",
                "ActorDefinition",  # R5 only
                "Requirements",  # R5 only
                "DomainResource",
                "Bundle",
                "",
                "patient",
                "Patient",
                "Medication",
            ]
        )
    )
    extra: JSON = {"resourceType": kind, "id": "foreign", "status": "active"}
    if draw(st.booleans()):
        extra["contained"] = [{"resourceType": draw(st.sampled_from(["Banana", "Patient", 7]))}]
    if not isinstance(bundle.get("entry"), list):
        bundle["entry"] = []
    at = draw(st.integers(0, len(bundle["entry"])))
    bundle["entry"].insert(at, {"fullUrl": "urn:uuid:foreign", "resource": extra})
    return f"entry {at} is a {kind!r}"


@st.composite
def _removed(draw: st.DrawFn, bundle: JSON) -> str:
    path = _pick(draw, [p for p in _paths(bundle) if isinstance(p[-1], str)])
    if path is None:
        return "no field left"
    del _at(bundle, path[:-1])[path[-1]]
    return f"{path} removed"


@st.composite
def _bundle_level(draw: st.DrawFn, bundle: JSON) -> str:
    choices: list[tuple[str, object]] = [
        ("resourceType", "Parameters"),
        ("resourceType", None),
        ("type", "document"),
        ("type", ["collection"]),
        ("entry", {"resource": {}}),
        ("entry", [None, 1, "x"]),
        ("entry", [{"resource": []}]),
        ("entry", [{"fullUrl": 5, "resource": {"resourceType": "Patient"}}]),
        ("fhirVersion", "5.0.0"),
        ("meta", {"profile": ["http://hl7.org/fhir/R5"]}),
    ]
    key, value = draw(st.sampled_from(choices))
    bundle[key] = value
    return f"Bundle.{key} = {value!r}"


Mutation = Callable[[JSON], st.SearchStrategy[str]]
MUTATIONS: tuple[Mutation, ...] = (
    _wrong_type,
    _huge_string,
    _deep,
    _bad_date,
    _odd_text,
    _nul,
    _duplicate_ids,
    _missing_reference,
    _foreign_resource,
    _removed,
    _bundle_level,
)


def _nested(depth: int, style: str) -> str:
    if style == "array":
        return "[" * depth + '"deep"' + "]" * depth
    opening = '{"url":"http://example.org/deep","extension":['
    return opening * depth + '{"url":"http://example.org/deep","valueString":"x"}' + "]}" * depth


def _serialise(bundle: JSON, how: str, depth: int, style: str) -> bytes:
    # json, not orjson: it writes NaN and escapes lone surrogates as \ud800, both hostile.
    text = json.dumps(bundle, ensure_ascii=how == "ascii")
    text = text.replace(json.dumps(_DEEP), _nested(depth, style))
    # A lone surrogate left unescaped makes bytes that are not UTF-8.
    return text.encode("utf-8", "surrogatepass")


@st.composite
def mutated_bundles(draw: st.DrawFn, birth_date: str, first: Mutation) -> Hostile:
    """A valid bundle changed by ``first``, then perhaps by one or two mutations of any kind."""
    bundle = draw(bundles())
    bundle["entry"][0]["resource"]["birthDate"] = birth_date
    done = [draw(first(bundle))]
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        mutation = draw(st.sampled_from(MUTATIONS))
        done.append(draw(mutation(bundle)))
    how = draw(st.sampled_from(["ascii", "utf-8"]))
    depth = draw(st.sampled_from(DEPTHS))
    style = draw(st.sampled_from(["extension", "array"]))
    what = "; ".join(done) + f" ({how}, nesting {depth} {style})"
    return Hostile(what, _serialise(bundle, how, depth, style))


@st.composite
def broken_bodies(draw: st.DrawFn, birth_date: str) -> Hostile:
    """Bodies that are not a FHIR Bundle at all."""
    valid = json.dumps(draw(bundles())).encode()
    kind = draw(
        st.sampled_from(
            ["empty", "binary", "truncated", "not-object", "bom", "utf-16", "deep", "nan"]
        )
    )
    if kind == "empty":
        return Hostile(kind, draw(st.sampled_from([b"", b" ", b"\n", b"\x00"])))
    if kind == "binary":
        return Hostile(kind, draw(st.binary(max_size=300)))
    if kind == "truncated":
        return Hostile(kind, valid[: draw(st.integers(1, len(valid) - 1))])
    if kind == "not-object":
        body = draw(
            st.sampled_from(
                [b"[]", b'"Bundle"', b"42", b"null", b"true", b'[{"resourceType":"Bundle"}]']
            )
        )
        return Hostile(kind, body)
    if kind == "bom":
        return Hostile(kind, b"\xef\xbb\xbf" + valid)
    if kind == "utf-16":
        return Hostile(kind, valid.decode().encode("utf-16"))
    if kind == "deep":
        depth = draw(st.sampled_from(DEPTHS))
        return Hostile(
            f"{kind} {depth}", _nested(depth, draw(st.sampled_from(["array", "x"]))).encode()
        )
    return Hostile(kind, valid.replace(b'"collection"', b'"collection", "x": NaN', 1))


def hostile_bundles(birth_date: str) -> dict[str, st.SearchStrategy[Hostile]]:
    """Each kind of hostility by name. A test runs each kind on its own: drawn from one mixed
    strategy, the first kind crowds the others out (hypothesis favours the first choice when the
    valid bundle underneath takes many draws)."""
    kinds = {m.__name__.strip("_"): mutated_bundles(birth_date, m) for m in MUTATIONS}
    return {**kinds, "not_a_bundle": broken_bodies(birth_date)}


# --- form posts -------------------------------------------------------------------------------

NUMBER_TEXTS = (
    "-1",
    "-0",
    "0",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "-1e309",
    "1e-400",
    "1e308",
    "99999999999999999999",
    "-99999999999999999999",
    "9" * 4_000,
    "9" * 5_000,
    "0x1A",
    "1_000",
    "1,5",
    "12abc",
    " 42 ",
    "+7",
    "\u0663",
    "4.9999999999999999999",
)
FORM_DATES = (
    "2026-02-30",
    "99999-01-01",
    "0001-01-01",
    "9999-12-31",
    "2026-13-01",
    "2026-11-01T25:00",
    "2026-11-01T09:00:00+14:00",
    "2026-11-01T08:00:00-12:00",
    "2026-11-01T08:00Z",
    "2026-11-01 08:00",
    "2026-11-02",
    "2026-11-01T23:59",
    "1800-01-01",
    "20261101",
    "2026-W44-7",
    "9999-12-31T23:59:59.999999",
)
NOT_UTF8 = (b"\xff\xfe", b"\xed\xa0\x80", b"\xc3", b"ok\x80")
Value = str | bytes

BIG_NUMBERS = (
    "99999999999999999999",
    "-99999999999999999999",
    str(2**31),
    str(2**63),
    "9" * 4_000,
    "1e309",
    "20261101",
)
# One category at a time, each as likely as the others: the values that broke the database
# (NUL, numbers past 64 bits) must come up often enough in a short run.
form_values: st.SearchStrategy[Value] = st.one_of(
    st.sampled_from(["", "   "]),
    st.sampled_from(HUGE_TEXTS),
    st.sampled_from(["\x00", "a\x00b", "\x00" * 3]),
    st.sampled_from(ODD_TEXTS),
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(NUMBER_TEXTS),
    st.sampled_from(BIG_NUMBERS),
    st.sampled_from(FORM_DATES),
    st.sampled_from(NOT_UTF8),
)


@dataclass(frozen=True)
class FormPost:
    what: str
    fields: tuple[tuple[str, Value], ...]

    def body(self) -> bytes:
        return b"&".join(
            quote_from_bytes(_bytes(name)).encode()
            + b"="
            + quote_from_bytes(_bytes(value)).encode()
            for name, value in self.fields
        )

    def __repr__(self) -> str:
        shown = [(n, v if len(v) <= 60 else f"{v[:30]!r}... ({len(v)})") for n, v in self.fields]
        return f"FormPost({self.what!r}, {shown!r})"


def _bytes(value: Value) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


@st.composite
def hostile_forms(draw: st.DrawFn, valid: dict[str, str]) -> FormPost:
    """A valid form with one to three fields replaced, dropped, repeated or added."""
    fields: list[tuple[str, Value]] = list(valid.items())
    done = []
    # Mostly one change, so that the other fields stay valid and the hostile one goes deep.
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        action = draw(st.sampled_from(["replace", "replace", "replace", "drop", "repeat", "extra"]))
        if action == "extra" or not fields:
            name = draw(
                st.sampled_from(["unknown", "csrf_token", "", "a" * 5_000, "\u202e", "x[]"])
            )
            fields.append((name, draw(form_values)))
            done.append(f"extra {name[:20]!r}")
            continue
        at = draw(st.integers(0, len(fields) - 1))
        name = fields[at][0]
        if action == "drop":
            del fields[at]
        elif action == "repeat":
            fields.insert(draw(st.integers(0, len(fields))), (name, draw(form_values)))
        else:
            fields[at] = (name, draw(form_values))
        done.append(f"{action} {name}")
    return FormPost("; ".join(done), tuple(fields))
