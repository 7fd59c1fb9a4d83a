"""``train TASK --config FILE``: options from a file, under those on the command line.

FILE is a JSON or TOML object of options (``{"units": 64, "batch-size": 32}``; dashes or underscores), or a run's
own ``config.json``: its ``options`` (every option the run was trained with, resolved) re-run that training, e.g.
``lstmkit train classify --config runs/a/config.json --out runs/b --seed 2``. ``--out`` is never taken from a file.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

NOT_FROM_FILE = {"out", "config", "func", "command", "task", "help"}
RUN_CONTROL = {"resume", "force"}       # how --out is taken: never kept in a run, nor read from a file


def saved_options(args) -> dict:
    """The options a train command ran with, as ``config.json`` keeps them (``options``): JSON values only."""
    keep = {}
    for key, value in vars(args).items():
        if key in NOT_FROM_FILE or key in RUN_CONTROL or callable(value):
            continue
        if value is None or isinstance(value, (bool, int, float, str)) or (
                isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value)):
            keep[key] = value
    return keep


def _read(path: str) -> dict:
    from ..data import read_utf8

    text = read_utf8(path)              # a missing file or bytes that are not UTF-8: an error naming file:line
    if Path(path).suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"--config {path}: not valid TOML ({exc})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--config {path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"--config {path}: expected an object of options, got {type(data).__name__}")
    return data


def _from_run(data: dict, path: str, task: str) -> dict:
    """A run's config.json -> its options (runs saved before ``options`` was kept: the trainer's options)."""
    if data["task"] != task:
        raise ValueError(f"--config {path}: a {data['task']} run's options; this is 'train {task}'")
    if isinstance(data.get("options"), dict):
        return dict(data["options"])
    if not isinstance(data.get("train"), dict):
        raise ValueError(f"--config {path}: this run keeps no options (saved by an older lstmkit)")
    skip = {"progress", "warmup", "schedule"}
    return {k: v for k, v in data["train"].items() if k not in skip}


def _value(action: argparse.Action, key: str, value, whose: str):
    """``value`` as the option's own parser would give it; an error names the key and whose it is."""
    where = f"{whose}: {key}"
    if value is None:                   # "not given" (a run's options keep every option, given or not)
        if action.default is not None:
            raise ValueError(f"{where}: expected a value, got null")
        return None
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse.BooleanOptionalAction)):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if action.nargs in ("+", "*") or isinstance(action, argparse._AppendAction):
        values = value if isinstance(value, list) else [value]
        return [_one(action, where, v) for v in values]
    return _one(action, where, value)


def _one(action, where: str, value):
    if isinstance(value, (dict, list, bool)) or value is None:
        raise ValueError(f"{where}: expected a single value, got {value!r}")
    if action.type is not None:
        try:
            value = action.type(str(value))
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"{where}: expected one of {', '.join(map(str, action.choices))}, got {value!r}")
    return value


def checked_options(data: dict, parser: argparse.ArgumentParser, where: str, command: str) -> dict:
    """``data`` (option -> value) as ``parser`` would give them: dest -> value, each checked as the command line
    checks it; an unknown option is an error listing them (``where`` says whose options they are)."""
    actions = {a.dest: a for a in parser._actions if a.option_strings}
    values, unknown = {}, []
    for key, value in data.items():
        dest = key.replace("-", "_").lstrip("_")
        if dest in NOT_FROM_FILE:
            continue
        if dest not in actions:
            unknown.append(key)
            continue
        values[dest] = _value(actions[dest], key, value, where)
    if unknown:
        raise ValueError(f"{where}: not options of '{command}': {', '.join(sorted(unknown))}")
    return values


def options_from_file(path: str, parser: argparse.ArgumentParser, task: str) -> dict:
    """``parser``'s defaults from FILE: dest -> value, each checked as the command line would check it."""
    data = _read(path)
    if "task" in data and "model" in data:
        data = _from_run(data, path, task)
    data = {k: v for k, v in data.items() if k.replace("-", "_").lstrip("_") not in RUN_CONTROL}
    return checked_options(data, parser, f"--config {path}", f"train {task}")
