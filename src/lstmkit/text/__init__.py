"""The text pipeline: raw text -> tokens -> ids -> padded ids + lengths -> embeddings."""
from .embeddings import Pretrained, load_pretrained
from .padding import pad_sequences
from .tokenizers import TOKENIZERS, Tokenizer, make_tokenizer, register_tokenizer
from .vocab import Vocab

__all__ = ["Tokenizer", "TOKENIZERS", "make_tokenizer", "register_tokenizer", "Vocab", "pad_sequences",
           "load_pretrained", "Pretrained"]
