"""Run folders: ``config.json``, ``vocab.json``, ``model.safetensors``, ``metrics.jsonl``, and while a training
runs, its checkpoint (``checkpoint.json`` + ``checkpoint-<n>.safetensors``: :mod:`lstmkit.train.resume`).

A task may own several vocabularies (``task.vocabs()``: role -> Vocab); the main one, role ``"tokens"``, is
``vocab.json``, any other ``vocab_<role>.json`` (e.g. ``vocab_bigrams.json``, ``vocab_target.json``); config.json
lists them under ``"vocabs"``. A task without one (regression) writes none.

Everything is data: JSON for the configuration and the vocabulary, safetensors for the weights. Files are
written atomically (a temp file, then a rename), and loading a run never unpickles and never runs code from
the folder: the task named in ``config.json`` is looked up in lstmkit's own registry (:mod:`lstmkit.tasks.registry`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

try:
    import fcntl
except ImportError:       # not on Windows: a second training there is stopped by check_new_run only
    fcntl = None

from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from .._version import __version__
from ..io import atomic_write_bytes, atomic_write_text
from ..text import Vocab
from .resume import CHECKPOINT
from .trainer import resolve_device

CONFIG, VOCAB, WEIGHTS, METRICS = "config.json", "vocab.json", "model.safetensors", "metrics.jsonl"
USER_DICT = "user_dict.txt"
TOKENIZER_RUN = "tokenizer"      # the copy of a segmentation run used as the tokenizer


def vocab_file(role: str) -> str:
    return VOCAB if role == "tokens" else f"vocab_{role}.json"


def save_run(run_dir, task, train_config=None, extra: dict | None = None) -> Path:
    """Write the task's configuration, vocabulary and weights into ``run_dir`` (created if needed)."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    model_config = task.config_dict()
    tok = dict(model_config.get("tokenizer") or {})
    user_dict = tok.get("user_dict")
    if user_dict and Path(user_dict).resolve() != (run / USER_DICT).resolve():
        # the run keeps its own copy, so prediction segments exactly as training did, wherever the run goes
        data = Path(user_dict).read_bytes()
        atomic_write_bytes(run / USER_DICT, data)
    if user_dict:
        tok["user_dict"] = USER_DICT
        model_config["tokenizer"] = tok
    if tok.get("name") == "run" and Path(tok["path"]).resolve() != (run / TOKENIZER_RUN).resolve():
        # a segmenter as tokenizer: the run keeps a copy of it (data files only), as it keeps a user dictionary
        seg = Path(tok["path"])
        (run / TOKENIZER_RUN).mkdir(parents=True, exist_ok=True)
        for f in seg.iterdir():
            if f.is_file() and f.suffix in (".json", ".safetensors", ".txt") and f.name != METRICS:
                atomic_write_bytes(run / TOKENIZER_RUN / f.name, f.read_bytes())
    if tok.get("name") == "run":
        tok["path"] = TOKENIZER_RUN
        model_config["tokenizer"] = tok
    vocabs = task.vocabs()
    config = {"lstmkit_version": __version__, "task": task.name, "model": model_config,
              "vocabs": {role: vocab_file(role) for role in vocabs},
              "train": asdict(train_config) if train_config is not None else None,
              "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if extra:
        config.update(extra)
    state = {k: v.detach().contiguous().cpu() for k, v in task.model.state_dict().items()}
    atomic_write_bytes(run / WEIGHTS, save_safetensors(state, metadata={"task": task.name}))
    for role, vocab in vocabs.items():
        atomic_write_text(run / vocab_file(role), json.dumps(vocab.to_json(), ensure_ascii=False))
    atomic_write_text(run / CONFIG, json.dumps(config, ensure_ascii=False, indent=2))
    return run


MODES = ("new", "resume", "force")


def _holds_run(run: Path) -> bool:
    return any((run / name).exists() for name in (CONFIG, WEIGHTS, CHECKPOINT))


def check_new_run(run_dir, mode: str = "new") -> None:
    """A run folder is never overwritten, nor a folder of the user's: fail before any work unless ``run_dir`` is
    new or an empty folder. ``mode="resume"`` also takes a run folder (to continue its training), ``"force"``
    a run folder to replace; neither takes a folder with other files in it."""
    if mode not in MODES:
        raise ValueError(f"check_new_run: mode must be one of {MODES}, got {mode!r}")
    run = Path(run_dir)
    if run.is_file():
        raise FileExistsError(f"{run} is a file; --out names the folder the new run goes into")
    if _holds_run(run):
        if mode == "new":
            raise FileExistsError(f"{run} already holds a run; choose another --out, continue it with --resume, or "
                                  f"replace it with --force")
        return
    # a killed training may leave the lock and hidden temp files (.name.xxx.tmp) and nothing else
    stray = [p for p in run.iterdir() if p.name != LOCK and not (mode == "resume" and p.name.startswith("."))] \
        if run.is_dir() else []
    if stray:
        raise FileExistsError(f"{run} is a folder with files in it, not a run; a run goes into a new or empty "
                              f"folder: choose another --out")


LOCK = ".lstmkit.lock"


@contextlib.contextmanager
def claim_run(run_dir, mode: str = "new"):
    """Create ``run_dir`` (or take it empty) for one training, exclusively: a second training into the same
    folder, even one started at the same instant, fails with a clear error. ``mode`` as in
    :func:`check_new_run`; with ``"force"`` the old run's files are removed once the folder is claimed. Yields
    whether the folder was created (or emptied) here. The lock (``.lstmkit.lock``, held with ``flock``, so a
    killed process releases it) is removed at the end."""
    run = Path(run_dir)
    check_new_run(run, mode)
    created = not run.exists()
    run.mkdir(parents=True, exist_ok=True)
    fd = os.open(run / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise FileExistsError(f"{run}: another lstmkit training is writing this run folder now; choose "
                                      f"another --out") from None
        check_new_run(run, mode)      # the other may have finished between the first look and the lock
        if mode == "force":
            for p in run.iterdir():
                if p.name != LOCK:
                    shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            created = True
        yield created
    finally:
        (run / LOCK).unlink(missing_ok=True)
        os.close(fd)


def mark_finished(run_dir) -> None:
    """Note in ``config.json`` that the run's training ran to its end (``"finished": true``): nothing to resume."""
    run = Path(run_dir)
    config = read_config(run)
    config["finished"] = True
    atomic_write_text(run / CONFIG, json.dumps(config, ensure_ascii=False, indent=2))


def keep_metrics(run_dir, before_epoch: int) -> None:
    """Rewrite ``metrics.jsonl`` with the lines of epochs before ``before_epoch`` only (a resumed training
    writes the later ones again); lines that are not JSON objects with an epoch (a torn last line) go too."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("epoch"), int) and record["epoch"] < before_epoch:
            kept.append(line + "\n")
    atomic_write_text(path, "".join(kept))


def append_metrics(run_dir, record: dict) -> None:
    """Append one JSON line to ``metrics.jsonl`` (one write per line, flushed)."""
    path = Path(run_dir) / METRICS
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()


def read_config(run_dir) -> dict:
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"run folder not found: {run}")
    path = run / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{run} is not a run folder: it has no {CONFIG}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8") from None
    if not isinstance(config, dict) or "task" not in config or "model" not in config:
        raise ValueError(f"{path}: expected an object with 'task' and 'model'")
    return config


def _inside(run: Path, name, what: str) -> Path:
    """``run / name`` when ``name`` is a plain relative path inside the run folder (a run never reads outside)."""
    p = Path(str(name))
    if not isinstance(name, str) or p.is_absolute() or ".." in p.parts:
        raise ValueError(f"{run / CONFIG}: {what} must be a file inside the run folder, got {name!r}")
    return run / p


def restore_run(run_dir, task_class_of, device: str = "cpu"):
    """Rebuild the task (tokenizer, vocabulary, model with its weights) saved in ``run_dir``, its model on
    ``device`` ("cpu", "cuda", "cuda:N" or "auto": CUDA when there is one). ``task_class_of(name, where)`` gives
    the :class:`~lstmkit.train.task.Task` class of the task ``config.json`` names (the registry's; see
    :func:`lstmkit.tasks.load_run`), or raises ValueError for an unknown one."""
    target = resolve_device(device)  # a device this machine lacks is an error before any reading
    run = Path(run_dir)
    config = read_config(run)
    task_cls = task_class_of(config["task"], str(run / CONFIG))
    config_cls = task_cls.config_class
    if not isinstance(config["model"], dict):
        raise ValueError(f"{run / CONFIG}: 'model' must be an object of options, got {config['model']!r}"[:300])
    model_config = dict(config["model"])
    tok = model_config.get("tokenizer") or {}
    if not isinstance(tok, dict):
        raise ValueError(f"{run / CONFIG}: model.tokenizer must be an object such as {{\"name\": \"char\"}}, got "
                         f"{tok!r}"[:300])
    tok = dict(tok)
    for key, what in (("user_dict", "the jieba user dictionary"), ("path", "the tokenizer run")):
        if tok.get(key) and (key == "user_dict" or tok.get("name") == "run"):
            tok[key] = str(_inside(run, tok[key], f"model.tokenizer.{key} ({what})"))
    model_config["tokenizer"] = tok
    roles = config.get("vocabs")
    if roles is None:  # runs saved before "vocabs" was written: the token vocabulary, bigrams when used
        roles = {"tokens": VOCAB}
        if model_config.get("bigrams"):
            roles["bigrams"] = vocab_file("bigrams")
    if not isinstance(roles, dict) or not all(isinstance(v, str) and v == vocab_file(k) for k, v in roles.items()):
        raise ValueError(f"{run / CONFIG}: 'vocabs' must map roles to vocab_<role>.json files, got {roles!r}")
    for name in (*roles.values(), WEIGHTS):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run} is not a complete run folder: it has no {name}")
    vocabs = {role: Vocab.load(run / name) for role, name in roles.items()}
    try:
        task = task_cls.from_saved(config_cls.from_dict(model_config), vocabs)
    except (TypeError, ValueError, KeyError) as exc:   # a hand-edited value: say where it is
        raise ValueError(f"{run / CONFIG}: model: {exc}"[:400]) from None
    try:
        state = load_safetensors((run / WEIGHTS).read_bytes())
    except (SafetensorError, ValueError) as exc:
        raise ValueError(f"{run / WEIGHTS}: not a readable safetensors file ({exc})") from None
    missing = set(task.model.state_dict()) ^ set(state)
    if missing:
        raise ValueError(f"{run / WEIGHTS}: weights do not match the configuration (differs in "
                         f"{sorted(missing)[:4]})")
    try:
        task.model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{run / WEIGHTS}: weights do not match the configuration: "
                         f"{str(exc).splitlines()[-1].strip()}") from None
    task.model.to(target).eval()
    return task
