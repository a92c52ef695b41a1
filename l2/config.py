"""Configuration of every role: defaults, then a TOML file, then ROLLUP_<ROLE>_* variables, then flags.

Each role declares a frozen dataclass (keys, types, defaults, `__post_init__` checks); this
module merges the layers into it, once for all roles, and names where a bad value came from.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, TypeVar

from l2.errors import ConfigError

C = TypeVar("C")


def _kind(cls: type, name: str) -> type:
    f = next(f for f in fields(cls) if f.name == name)
    default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc,operator]
    return type(default)


def _coerce(cls: type, name: str, value: Any, source: str) -> Any:
    kind = _kind(cls, name)
    if kind is bool and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{source}: {name} must be true or false, not {value!r}")
    if isinstance(value, str) and kind is not str:
        try:
            return kind(value)
        except ValueError:
            raise ConfigError(f"{source}: {name} must be {kind.__name__}, not {value!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{source}: {name} must be {kind.__name__}, not {value!r}")
    return value


def load_config(
    cls: type[C],
    section: str,
    path: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> C:
    """Merge the layers into `cls`; an unknown key or bad value is a ConfigError saying where."""
    import os

    keys = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    prefix = f"ROLLUP_{section.upper()}_"
    values: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        table = data.get(section, data)
        if not isinstance(table, dict):
            raise ConfigError(f"config file {path}: [{section}] must be a table")
        for key, value in table.items():
            if key not in keys:
                raise ConfigError(f"config file {path}: unknown key {key!r}")
            values[key] = _coerce(cls, key, value, f"config file {path}")
    for var, value in (os.environ if env is None else env).items():
        if var.startswith(prefix):
            key = var[len(prefix) :].lower()
            if key not in keys:
                raise ConfigError(f"environment variable {var}: unknown key {key!r}")
            values[key] = _coerce(cls, key, value, f"environment variable {var}")
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(cls, key, value, f"flag --{key.replace('_', '-')}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


def add_flags(parser: argparse.ArgumentParser, cls: type, section: str, help_text: Mapping[str, str]) -> None:
    """One `--key` flag per field of `cls`, documenting its default and environment variable."""
    parser.add_argument("--config", default=None, help="TOML configuration file")
    for f in fields(cls):
        default = f.default if f.default is not MISSING else None
        shown = "(secret)" if "key" in f.name and "private" in f.name else repr(default)
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            default=None,
            help=f"{help_text.get(f.name, f.name)} (default {shown}; env ROLLUP_{section.upper()}_{f.name.upper()})",
        )


def flag_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    return {f.name: getattr(args, f.name, None) for f in fields(cls)}
