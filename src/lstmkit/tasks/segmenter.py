"""A trained segmentation run as a tokenizer (``--tokenizer run:RUN``): the ``run`` tokenizer of
:func:`lstmkit.text.make_tokenizer`, registered here because it runs a tagger, a task above the text layer."""
from __future__ import annotations

from pathlib import Path

from ..text.tokenizers import Tokenizer, register_tokenizer
from .loading import load_run

_SEGMENTERS: dict = {}


@register_tokenizer
class RunTokenizer(Tokenizer):
    """The words a trained lstmkit segmentation run finds (a tagger of ``kind="words"``, e.g. on pd98-seg).

    The run is loaded on first use, once per process and path. This is the one tokenizer that reaches into the
    task layer (it runs a tagger).
    """

    name = "run"

    def __init__(self, path: str):
        self.path = str(path)
        if not (Path(self.path) / "config.json").is_file():
            raise FileNotFoundError(f"tokenizer run:{self.path}: not a run folder (no config.json)")

    def _segmenter(self):
        key = str(Path(self.path).resolve())
        if key not in _SEGMENTERS:
            task = load_run(self.path)
            if task.name != "tag" or task.config.kind != "words":
                raise ValueError(f"tokenizer run:{self.path}: a segmentation run is needed (lstmkit train tag "
                                 f"--kind words, e.g. --corpus pd98-seg), got a {task.name!r} run"
                                 + (f" of kind {task.config.kind!r}" if task.name == "tag" else ""))
            _SEGMENTERS[key] = task
        return _SEGMENTERS[key]

    def tokenize(self, text):
        return self.batch([text])[0]

    def batch(self, texts) -> list[list[str]]:
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"RunTokenizer: text must be str, got {type(t).__name__}")
        if not texts:
            return []
        return [rec.get("words", []) for rec in self._segmenter().predict_records(texts)]

    def config(self):
        return {"name": self.name, "path": self.path}
