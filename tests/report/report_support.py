"""Run folders for the report tests: hand-written ones whose metrics are known numbers, and two tiny trained ones
(a seq2seq run and a forecaster) whose models the pictures on dev data need."""
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
LABELS = ["好评", "差评", "中评"]
CONFUSION = [[[3, 2, 1], [2, 3, 1], [1, 1, 2]], [[5, 1, 0], [2, 3, 1], [0, 0, 4]], [[4, 2, 0], [2, 4, 0], [1, 0, 3]]]
ACCURACY = [8 / 16, 12 / 16, 11 / 16]
PER_TYPE = {"人名": {"precision": 0.8, "recall": 0.5, "f1": 8 / 13, "support": 10},
            "LOC": {"precision": 0.25, "recall": 1.0, "f1": 0.4, "support": 4}}
LM_LOSS = [8.0, 5.5, 4.6, 4.65]                   # nats per token; perplexity exp(loss)


def _record(epoch, dev, best, lr, loss=None):
    return {"epoch": epoch, "train_loss": 2.0 / epoch if loss is None else loss, "lr": lr, "seconds": 0.5,
            "sentences_per_s": 100.0 * epoch, "unit": "sentences", "best": best, "dev": dev}


def write_run(folder: Path, task: str, model: dict, records: list) -> Path:
    folder.mkdir(parents=True)
    config = {"lstmkit_version": "0", "task": task, "model": model, "vocabs": {}, "train": None}
    (folder / "config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                          encoding="utf-8")
    return folder


@pytest.fixture
def written(tmp_path):
    """Three hand-written runs (classify, tag, lm) with known metrics: name -> folder."""
    clf = [_record(e + 1, {"accuracy": ACCURACY[e], "loss": 1.0 - 0.1 * e, "confusion": CONFUSION[e], "n": 16},
                   best=e < 2, lr=0.002 * (1 - e / 3)) for e in range(3)]
    tag = [_record(1, {"f1": 0.3, "precision": 0.3, "recall": 0.3, "per_type": PER_TYPE}, True, 0.002),
           _record(2, {"f1": 0.55, "precision": 0.6, "recall": 0.5, "per_type": PER_TYPE}, True, 0.001)]
    lm = [{**_record(e + 1, {"perplexity": math.exp(v), "loss": v, "n_tokens": 500, "n_texts": 20},
                     best=e < 3, lr=0.001), "unit": "tokens", "tokens_per_s": 900.0} for e, v in enumerate(LM_LOSS)]
    return {"clf": write_run(tmp_path / "clf", "classify", {"labels": LABELS}, clf),
            "tag": write_run(tmp_path / "tag", "tag", {"kind": "entities", "labels": ["O"]}, tag),
            "lm": write_run(tmp_path / "lm", "lm", {}, lm)}


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A seq2seq run and a forecaster trained for a few epochs on docs/examples, with their dev files, and a
    forecaster trained for one epoch on the built-in corpus co2."""
    import lstmkit

    d = tmp_path_factory.mktemp("trained")
    for name in ("pairs.tsv", "series.csv"):
        shutil.copy(EXAMPLES / name, d / name)
    rows = (EXAMPLES / "series.csv").read_text(encoding="utf-8").splitlines()
    (d / "short.csv").write_text("\n".join(rows[:41]) + "\n", encoding="utf-8")   # 40 rows: 26 windows
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lstmkit.train("seq2seq", train=str(d / "pairs.tsv"), dev=str(d / "pairs.tsv"), out=str(d / "s2s"),
                      epochs=3, units=8, embedding_dim=8, lr=0.02, quiet=True)
        lstmkit.train("regress", train=str(d / "series.csv"), column=["value"], window=12, horizon=3, season=12,
                      out=str(d / "reg"), epochs=3, units=8, quiet=True)
        lstmkit.train("regress", corpus="co2", horizon=2, out=str(d / "co2"), epochs=1, units=4, quiet=True)
    finally:
        torch.set_num_threads(threads)
    return d
