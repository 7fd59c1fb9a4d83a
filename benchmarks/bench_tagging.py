"""Sequence labelling on the built-in corpora: lstmkit's BiLSTM-CRF with its defaults, and jieba beside it for
word segmentation (same test sentences, same word-level P/R/F1).

    python benchmarks/bench_tagging.py                       # msra-ner, pd98-seg, pd98-pos
    python benchmarks/bench_tagging.py --corpora pd98-seg --epochs 4
    python benchmarks/bench_tagging.py --decoding            # CRF vs softmax: decoding and loss cost only
    python benchmarks/bench_tagging.py --speed --limit 5000  # MSRA sentences/s with and without --lexicon zhwiki

Prints one table: the corpus, the model, its test metrics, training time on this machine, tagging throughput.
"""
from __future__ import annotations

import argparse
import time

import torch

from _common import train_timed
from lstmkit.data import load_corpus
from lstmkit.tasks.tag import TagConfig, TagTask
from lstmkit.train.metrics import tagging_report
from lstmkit.text.tags import from_spans, spans
from lstmkit.train.trainer import seed_everything

SETUP = {"msra-ner": ("entities", "BMES", "f1"), "pd98-seg": ("words", "BMES", "f1"),
         "pd98-pos": ("tags", "BMES", "token_accuracy")}


def bench_lstmkit(name: str, epochs: int | None, log, lexicon: str | None = "default") -> dict:
    """The corpus's defaults (``lstmkit train tag --corpus NAME``: its lexicon and vectors included,
    :data:`CORPUS_DEFAULTS`), or ``lexicon`` (None: without one) and no pretrained vectors."""
    from lstmkit.cli.tag import CORPUS_DEFAULTS

    kind, scheme, metric = SETUP[name]
    splits = load_corpus(name)
    seed_everything(13)
    defaults = CORPUS_DEFAULTS.get(name, {}) if lexicon == "default" else {"lexicon": lexicon}
    task = TagTask.from_data(TagConfig.for_kind(kind, scheme=scheme, **defaults), splits["train"])
    best, train_s = train_timed(task, splits, epochs, log)
    test = splits["test"]
    t0 = time.perf_counter()
    m = task.evaluate(task.encode(test))
    tag_s = time.perf_counter() - t0
    given = "".join(f" --{k} {v}" for k, v in defaults.items() if v)
    model = f"lstmkit BiLSTM-CRF{given} (best epoch {best['epoch']})"
    return {"corpus": name, "model": model, "metric": metric,
            "value": m[metric], "precision": m.get("precision"), "recall": m.get("recall"),
            "token_accuracy": m["token_accuracy"], "train_min": train_s / 60, "sent_s": len(test) / tag_s}


def bench_jieba_seg() -> dict:
    import jieba

    jieba.setLogLevel(60)
    test = load_corpus("pd98-seg")["test"]
    t0 = time.perf_counter()
    pred = []
    for chars, tags in zip(test.sentences, test.tags):
        words = jieba.lcut("".join(chars), HMM=True)
        found, k = [], 0
        for w in words:
            found.append(("", k, k + len(w)))
            k += len(w)
        pred.append(from_spans(found, len(chars), "BMES"))
    seconds = time.perf_counter() - t0
    m = tagging_report(test.tags, pred, kind="words", scheme="BMES")
    assert all(spans(t, "BMES") for t in test.tags)
    return {"corpus": "pd98-seg", "model": "jieba (default dictionary, HMM)", "metric": "f1", "value": m["f1"],
            "precision": m["precision"], "recall": m["recall"], "token_accuracy": m["token_accuracy"],
            "train_min": 0.0, "sent_s": len(test) / seconds}


def bench_decoding(repeats: int = 20) -> None:
    """The CRF's cost against a per-step softmax on the same emissions (B=128 sentences of up to 50 characters,
    mixed lengths): Viterbi vs argmax, and the CRF's negative log-likelihood (forward algorithm) vs cross-entropy,
    forward and backward. Both ABBA-alternated, best of ``repeats``."""
    import torch.nn.functional as F

    from bench_lstm import best_times
    from lstmkit.nn.crf import CRF

    g = torch.Generator().manual_seed(0)
    B, T = 128, 50
    lengths = torch.randint(5, T + 1, (B,), generator=g)
    lengths[0] = T
    valid = torch.arange(T) < lengths.unsqueeze(1)
    print(f"# CRF vs softmax, B={B}, T<={T}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| tags K | Viterbi ms | argmax ms | CRF NLL fwd+bwd ms | cross-entropy fwd+bwd ms |")
    print("|---:|---:|---:|---:|---:|")
    for K in (4, 13, 45):   # BMES segmentation, MSRA's BMES-{PER,LOC,ORG}+O, People's Daily POS
        crf = CRF(K)
        em = torch.randn(B, T, K, generator=g, requires_grad=True)
        tags = torch.randint(0, K, (B, T), generator=g)
        with torch.no_grad():
            vit, arg = best_times([lambda: crf.viterbi(em, lengths), lambda: em.argmax(2)], repeats)

        def nll():
            (-crf.log_likelihood(em, tags, lengths).mean()).backward()

        def ce():
            F.cross_entropy(em[valid], tags[valid]).backward()

        a, b = best_times([nll, ce], repeats)
        print(f"| {K} | {vit * 1e3:.2f} | {arg * 1e3:.3f} | {a * 1e3:.2f} | {b * 1e3:.2f} |")


# model -> (its options, the --lexicon-proj of its row with a projected lexicon)
SPEED_MODELS = {"defaults": ({}, 100),      # E 200, bigrams, jieba word places, H 128
                "NCRF++-sized": ({"embedding_dim": 50, "units": 100, "bigrams": False, "word_features": None,
                                  "max_bigrams": 50_000}, 50)}   # NCRF++'s char BiLSTM-CRF: 50-d chars, 2 x 100 units


def _timed(fn, *args):
    """``(fn(*args), seconds)``."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def bench_speed(limit: int | None, lexicon: str = "zhwiki", threads: int = 1, repeats: int = 3) -> list[dict]:
    """Training and decoding sentences/s on MSRA (one thread by default), each model without the SoftLexicon
    features, with them, and with them projected (``--lexicon-proj``), and what the lexicon costs: reading it and
    counting its words on the training text (``from_data``), and finding each sentence's word sets (its share of
    ``encode``). Training: the trainer's work on the training subset's batches of 64 (loss, backward, clipping,
    an AdamW step; batches built as it goes). Decoding: the test subset through ``predict_ids`` (features
    computed: the model and the Viterbi) on torch and on onnxruntime (the exported graph). Every configuration's
    passes alternate (ABBA), best of ``repeats``: a busy machine slows them alike, and the best is the least
    disturbed."""
    import tempfile

    from bench_lstm import best_times
    from lstmkit.export.onnx import OnnxRunner, export_onnx
    from lstmkit.text.lexicon import lexicon_ids

    torch.set_num_threads(threads)
    splits = load_corpus("msra-ner")
    train, test = (splits[k].head(limit) if limit else splits[k] for k in ("train", "test"))
    rows, fns, tmp = [], [], tempfile.TemporaryDirectory()
    for model, (options, narrow) in SPEED_MODELS.items():
        for lex, proj in ((None, 0), (lexicon, 0), (lexicon, narrow)):
            seed_everything(13)
            config = TagConfig.for_kind("entities", scheme="BMES", lexicon=lex, lexicon_proj=proj, **options)
            task, build_s = _timed(TagTask.from_data, config, train)
            enc, encode_s = _timed(task.encode, train)
            lex_s = 0.0
            if lex:
                z, size = task.model.lexicon.z.numpy(), task.config.lexicon_set_size
                t0 = time.perf_counter()
                for s in train.sentences:
                    lexicon_ids(task.matcher, s, z, size)
                lex_s = time.perf_counter() - t0
            test_enc = task.encode(test)
            path = f"{tmp.name}/{len(rows)}.onnx"
            export_onnx(task, path)
            runner = OnnxRunner(path, threads=threads)
            params = [p for p in task.model.parameters() if p.requires_grad]
            fns += [_train_pass(task, enc, params), _decode(task, test_enc, None), _decode(task, test_enc, runner)]
            rows.append({"model": model, "lexicon": (f"{lex}, --lexicon-proj {proj}" if proj else lex) if lex else "-",
                         "lexicon_build_s": build_s if lex else 0.0, "lexicon_encode_s": lex_s, "encode_s": encode_s,
                         "params": sum(p.numel() for p in params)})
    times = best_times(fns, repeats, warmup=1)
    for k, r in enumerate(rows):
        r.update(train_sent_s=len(train) / times[3 * k], epoch_s=times[3 * k],
                 decode_torch=len(test) / times[3 * k + 1], decode_onnx=len(test) / times[3 * k + 2])
        print("#", r, flush=True)
    tmp.cleanup()
    print(f"# MSRA, {len(train):,} training and {len(test):,} test sentences, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}; best of {repeats} alternated passes")
    print("| model | lexicon | trained parameters | training sentences/s | decoding sentences/s torch / onnx | "
          "lexicon: read + count s | lexicon: word sets of the training text s | encoding s (all features) | "
          "lexicon work / one training pass |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        share = (r["lexicon_build_s"] + r["lexicon_encode_s"]) / r["epoch_s"]
        print(f"| {r['model']} | {r['lexicon']} | {r['params']:,} | {r['train_sent_s']:,.0f} | "
              f"{r['decode_torch']:,.0f} / {r['decode_onnx']:,.0f} | {r['lexicon_build_s']:.1f} | "
              f"{r['lexicon_encode_s']:.1f} | {r['encode_s']:.1f} | {share:.0%} |")
    return rows


def _train_pass(task, enc, params, batch_size: int = 64):
    """One pass of the trainer's work over ``enc``: loss, backward, gradient clipping, an AdamW step."""
    optimizer = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.01)

    def run():
        task.model.train()
        for batch in task.batches(enc, batch_size, shuffle=True):
            optimizer.zero_grad(set_to_none=True)
            task.step(batch).backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            optimizer.step()
    return run


def _decode(task, enc, runner):
    """Tag ``enc`` on torch (``runner`` None) or through the exported graph."""
    def run():
        task.runner = runner
        task.predict_ids(enc)
        task.runner = None
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", default="msra-ner,pd98-seg,pd98-pos")
    ap.add_argument("--epochs", type=int, default=None, help="override the default epochs")
    ap.add_argument("--decoding", action="store_true", help="only the CRF vs softmax decoding/loss timings")
    ap.add_argument("--speed", action="store_true",
                    help="only MSRA's training and decoding sentences/s, with and without --lexicon")
    ap.add_argument("--lexicon", default=None,
                    help="--speed: the lexicon it measures (default zhwiki); otherwise the lexicon the models train "
                         "with, none for none (default: each corpus's, as lstmkit train tag --corpus)")
    ap.add_argument("--limit", type=int, default=None, help="--speed: the first N training and test sentences")
    ap.add_argument("--threads", type=int, default=1, help="--speed: torch (and onnxruntime) threads")
    ap.add_argument("--repeats", type=int, default=3, help="--speed: alternated passes, the best kept")
    args = ap.parse_args(argv)
    if args.decoding:
        return bench_decoding()
    if args.speed:
        return bench_speed(args.limit, args.lexicon or "zhwiki", args.threads, args.repeats)
    rows = []
    for name in args.corpora.split(","):
        if name == "pd98-seg":
            rows.append(bench_jieba_seg())
        lexicon = "default" if args.lexicon is None else (None if args.lexicon == "none" else args.lexicon)
        rows.append(bench_lstmkit(name, args.epochs, log=lambda m: print("#", m, flush=True), lexicon=lexicon))
    print(f"# {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| corpus | model | test metric | precision | recall | token accuracy | training | sentences/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        pr = [f"{r[k]:.4f}" if r[k] is not None else "-" for k in ("precision", "recall")]
        print(f"| {r['corpus']} | {r['model']} | {r['metric']} {r['value']:.4f} | {pr[0]} | {pr[1]} | "
              f"{r['token_accuracy']:.4f} | {r['train_min']:.1f} min | {r['sent_s']:,.0f} |")
    return rows


if __name__ == "__main__":
    main()
