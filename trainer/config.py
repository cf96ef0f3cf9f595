"""YAML experiment files to typed, validated dataclasses, with `key=value` overrides.

A schema is a tree of dataclasses (see `schemas/`). Each field has a type annotation, an
optional constraint (`Annotated[float, Range(gt=0)]`) and a docstring written under it, which
`field_docs` reads so that the same text can document the experiment on the site.
Every mistake becomes one `ConfigError` naming the file, the dotted key and what was expected.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import inspect
import math
import re
import textwrap
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml

from . import credentials
from .errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # an experiment file is a page of YAML; anything larger is a mistake
MAX_NESTING = 50  # levels of YAML mappings and lists; the deepest experiment setting is six down


@dataclass(frozen=True)
class Range:
    """Bounds for a number field; None means unbounded on that side."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def violation(self, value: float) -> str | None:
        for bound, ok, word in (
            (self.gt, lambda b: value > b, ">"),
            (self.ge, lambda b: value >= b, ">="),
            (self.lt, lambda b: value < b, "<"),
            (self.le, lambda b: value <= b, "<="),
        ):
            if bound is not None and not ok(bound):
                return f"must be {word} {bound:g}, got {value!r}"
        return None


Positive = Range(gt=0)
NonNegative = Range(ge=0)
Fraction = Range(ge=0, le=1)


# --- reading field docstrings ----------------------------------------------------------------

def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (CleanRL style), by field name.

    Inherited fields keep the docstring of the class that declares them (a subclass may re-document).
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        if dataclasses.is_dataclass(klass):
            docs.update(_own_field_docs(klass))
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def describe(cls: type, prefix: str = "", defaults: Any = None) -> list[tuple[str, str, Any, str]]:
    """(dotted key, type, default, doc) for every leaf field of a schema, in declaration order.

    A section's defaults are those of the section as its schema builds it (GPT's optimiser, say, has
    its own weight decay), given as `defaults`; the fields of a list's items follow the list, keyed
    `list[].field`, so every setting an experiment file can hold has a row."""
    rows = []
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls, include_extras=True)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        base = _strip_annotated(hints[f.name])[0]
        default = _default_of(f) if defaults is None else getattr(defaults, f.name)
        if dataclasses.is_dataclass(base):
            rows += describe(base, key + ".", None if default is dataclasses.MISSING else default)
            continue
        rows.append((key, _type_name(hints[f.name]), default, docs.get(f.name, "")))
        item = _list_item(base)
        if item is not None:
            rows += describe(item, key + "[].")
    return rows


def _list_item(tp: Any) -> type | None:
    """The dataclass a list holds (`list[RegimeConfig]` -> RegimeConfig), or None."""
    if typing.get_origin(tp) is not list:
        return None
    item = _strip_annotated(typing.get_args(tp)[0])[0]
    return item if dataclasses.is_dataclass(item) else None


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


# --- building typed values -----------------------------------------------------------------

def _strip_annotated(tp: Any) -> tuple[Any, list]:
    if typing.get_origin(tp) is Annotated:
        base, *extras = typing.get_args(tp)
        return base, list(extras)
    return tp, []


def _type_name(tp: Any) -> str:
    tp, _ = _strip_annotated(tp)
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join("null" if a is type(None) else _type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (item,) = typing.get_args(tp)
        return f"list of {_type_name(item)}"
    if origin is dict:
        key, value = typing.get_args(tp)
        return f"mapping of {_type_name(key)} to {_type_name(value)}"
    if tp is Any:
        return "any YAML value"
    return {int: "integer", float: "number", str: "string", bool: "true/false"}.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, source: str, key: str) -> Any:
    """`value` as type `tp`, or a ConfigError saying what was expected."""
    tp, extras = _strip_annotated(tp)
    origin = typing.get_origin(tp)

    def fail(what: str = "") -> ConfigError:
        shown = _shown(value) if not isinstance(value, (dict, list)) else type(value).__name__
        return ConfigError(source, key, what or f"expected {_type_name(tp)}, got {shown}")

    if isinstance(value, str) and credentials.in_url(value):  # whatever the field's type: the value is printed and recorded
        raise fail("holds an address with credentials in it (user:password@host, or a token, key or signature in its "
                   "query); the config is recorded and published with the run, so credentials must stay out of it")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise fail(f"expected a mapping of {_type_name(tp)} settings, got {type(value).__name__}")
        return build(tp, value, source, key + ".")
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                result = _convert(value, option, source, key)
                break
            except ConfigError as e:
                errors.append(e)
        else:
            raise fail()
    elif origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices or type(value) is bool:
            hint = did_you_mean(str(value), [str(c) for c in choices])
            raise fail(f"expected one of {', '.join(repr(c) for c in choices)}, got {value!r}{hint}")
        result = value
    elif origin is list:
        if not isinstance(value, list):
            raise fail()
        (item,) = typing.get_args(tp)
        result = [_convert(v, item, source, f"{key}[{i}]") for i, v in enumerate(value)]
    elif origin is dict:
        if not isinstance(value, dict):
            raise fail()
        key_tp, value_tp = typing.get_args(tp)
        result = {_convert(k, key_tp, source, key): _convert(v, value_tp, source, f"{key}.{k}") for k, v in value.items()}
    elif tp is bool:
        if not isinstance(value, bool):
            raise fail()
        result = value
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail()
        if not -2**63 <= value < 2**63:  # torch and numpy hold integers (seeds, counts) in 64 bits
            raise fail(f"expected an integer that fits in 64 bits (below 2**63 in size), got {_shown(value)}")
        result = value
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = _text_number_hint(value)
            raise fail(f"expected number, got {value!r}{hint}" if hint else "")
        result = float(value)
        if not math.isfinite(result):
            raise fail(f"expected a finite number, got {value!r}")
    elif tp is str:
        if not isinstance(value, str):
            raise fail()
        result = value
    elif tp is Any:
        result = value
    else:  # pragma: no cover - a schema bug, not a user mistake
        raise TypeError(f"unsupported config type {tp!r} at {key}")

    for extra in extras:
        if isinstance(extra, Range) and result is not None:
            problem = extra.violation(result)
            if problem:
                raise ConfigError(source, key, problem)
    return result


def _shown(value: Any, limit: int = 80) -> str:
    """A value as a message shows it: its repr, cut short so that a 5000-digit number stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _text_number_hint(value: Any) -> str:
    """Why a number came out of the YAML as text: PyYAML (YAML 1.1) reads 1e-3 as a string."""
    try:
        if not isinstance(value, str) or not math.isfinite(float(value)):
            return ""
    except ValueError:
        return ""
    if re.fullmatch(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+", value.strip()):
        mantissa, _, exponent = value.strip().lower().partition("e")
        written = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent if exponent[0] in '+-' else '+' + exponent}"
        return f" (YAML reads {value} as text; write a decimal point and a signed exponent: {written})"
    return " (a quoted number is text; write it without quotes)"


def did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def build(cls: type, mapping: dict, source: str, prefix: str = "") -> Any:
    """An instance of dataclass `cls` from a mapping, checking every key and value."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in mapping:
        if not isinstance(name, str) or name not in fields:
            hint = did_you_mean(str(name), list(fields))
            known = ", ".join(fields)
            raise ConfigError(source, f"{prefix}{name}", f"unknown key{hint}; known keys here: {known}")
    values = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        if name in mapping:
            values[name] = _convert(mapping[name], hints[name], source, key)
        elif _default_of(f) is dataclasses.MISSING:
            raise ConfigError(source, key, f"missing required key ({_type_name(hints[name])})")
    instance = cls(**values)
    check = getattr(instance, "check", None)
    if check:  # cross-field rules a type cannot express; returns (key, message) or None
        problem = check()
        if problem:
            raise ConfigError(source, f"{prefix}{problem[0]}", problem[1])
    return instance


def seeds(tree: dict, prefix: str = "") -> dict:
    """Every seed in a resolved config, by dotted key, so the record lists them in one place."""
    found = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            found.update(seeds(value, f"{prefix}{key}."))
        elif key == "seed" or key.endswith("_seed"):
            found[f"{prefix}{key}"] = value
    return found


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """A resolved config as dotted keys -> leaf values (a list or an empty mapping is a leaf), keys sorted."""
    flat = {}
    for key in sorted(tree):
        value, dotted = tree[key], f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)


def config_sha256(cfg: Any) -> str:
    return hashlib.sha256(dump_yaml(cfg).encode()).hexdigest()


# --- files and overrides -------------------------------------------------------------------

class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (an experiment never needs them, and they are how a few lines of
    YAML expand into gigabytes), nesting deeper than any experiment needs (it would exhaust Python's
    recursion), and duplicate keys (plain YAML silently keeps the last one, hiding a mistake)."""

    _depth = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(None, None, "aliases (*name) are not allowed in experiment files", event.start_mark)
        if self._depth >= MAX_NESTING:
            raise yaml.MarkedYAMLError(None, None, f"nested more than {MAX_NESTING} levels deep; an experiment file needs a few",
                                       self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        first_seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<:` merges are resolved by SafeLoader itself
            key = self.construct_object(key_node, deep=True)
            try:
                first = first_seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: SafeLoader refuses it with its own message
            if first is not key_node:
                raise yaml.MarkedYAMLError(None, None, f"duplicate key {key!r} (first given at line {first.start_mark.line + 1}); "
                                           "each key may appear once", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node, deep=False):  # type: ignore[override]
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as e:  # a value YAML recognises but Python cannot build: 2001-13-45, a 5000-digit integer
            raise yaml.MarkedYAMLError(None, None, f"cannot read this value ({str(e).split(';')[0]})", node.start_mark) from None


def read_yaml(path: Path) -> dict:
    """The top-level mapping of a YAML file, or a ConfigError naming the file and the problem."""
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, "", "file not found" if not path.exists() else "not a regular file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(source, "", f"cannot be read ({e.strerror or e}); expected a readable YAML experiment file") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(source, "", f"file is {len(raw)} bytes; an experiment file must be under {MAX_CONFIG_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(source, "", f"not UTF-8 text (byte {e.start}); expected a YAML experiment file") from None
    if "\x00" in text:
        raise ConfigError(source, "", "contains NUL bytes; expected a YAML experiment file")
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        said = [getattr(e, "context", None), getattr(e, "problem", None)]  # e.g. "expected a single document", "but found another"
        problem = ", ".join(part for part in said if part) or str(e)
        raise ConfigError(source, "", f"YAML syntax error at {where}{problem}") from None
    if data is None:
        raise ConfigError(source, "", "file is empty; expected a mapping with at least 'name' and 'model'")
    if not isinstance(data, dict):
        raise ConfigError(source, "", f"expected a mapping of settings at the top level, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """`optim.lr=0.05` -> ("optim.lr", 0.05); the value is read as YAML, so types come out right."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError("command line", text, "expected an override of the form section.key=value")
    try:
        value = yaml.load(raw, Loader=_NoAliasLoader) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for text in overrides:
        key, value = parse_override(text)
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError("command line", key, f"{part!r} is a value, not a section")
            node = child
        node[leaf] = value
    return data
