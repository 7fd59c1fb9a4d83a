"""Tiny training data for the tests that run `lstmkit train` in subprocesses (resume, torchrun): a two-class
Chinese TSV and a CoNLL NER file, ``n`` examples each."""
from pathlib import Path

TAG_SENTENCE = "张 B-PER\n三 E-PER\n在 O\n北 B-LOC\n京 E-LOC\n去 O\n了 O"


def write_tiny(d: Path, n: int) -> Path:
    """``d/cls.tsv`` (``n`` reviews, half of each label) and ``d/tag.txt`` (``n`` sentences of 3-7 characters)."""
    (d / "cls.tsv").write_text("label\ttext\n" + "".join(f"1\t真好{'啊' * (k % 5)}{k}\n0\t太差{'了' * (k % 3)}{k}\n"
                                                         for k in range(n // 2)), encoding="utf-8")
    lines = TAG_SENTENCE.splitlines()
    (d / "tag.txt").write_text("\n\n".join("\n".join(lines[: 3 + k % 5]) for k in range(n)) + "\n", encoding="utf-8")
    return d


def train_args(d: Path, task: str, out: str, common: list, *more) -> list:
    """``lstmkit train TASK`` on the tiny data in ``d``, dev = train, into ``d/out``."""
    files = {"classify": ["--train", str(d / "cls.tsv")], "tag": ["--train", str(d / "tag.txt"), "--format", "conll"]}
    return ["train", task, *files[task], "--dev", files[task][1], "--out", str(d / out), *common, *more]
