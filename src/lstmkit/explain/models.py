"""``explain --run`` for the models beyond the classifier: taggers, seq2seq, language models, forecasters.

Each traces one batch through the trained run with real shapes and values, as :class:`ModelTrace`: the steps
(the same :class:`Step`/:class:`Tensor` as the classifier's walkthrough), per input one or more labelled
heatmaps (seq2seq: attention weights, output steps x source steps; tagger: tag probabilities per token; language
model: the next-token probabilities of the likeliest tokens; forecaster: the input window), the predictions and
the parameter counts. ``render_model_text`` / ``ModelTrace.to_json`` / ``explain.html.render_model_html``
show it.

Every activation shown (embedded inputs, LSTM outputs and final states, the bridge, emissions, attention, logits,
forecasts) is the model's own, recorded while its ``forward`` runs (:func:`lstmkit.nn.recording`; each model's
docstring lists what it records), and the heatmaps are read from them: nothing here recomputes a model, so a
change to one cannot drift from its walkthrough.

Shape legend: ``B`` batch, ``T`` time steps, ``S`` source steps, ``E`` embedding size, ``H`` units, ``P`` the
cells' output size where they project ``h`` (``num_proj``), ``D`` directions, ``K`` tags, ``V`` vocabulary, ``I``
input features.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..nn import recording
from ..text import pad_sequences
from .report import tensor_line
from .trace import Step


@dataclass
class Heatmap:
    """``matrix (rows, cols)`` with a label for every row and column; ``kind`` "prob" (0..1) or "signed"."""

    title: str
    matrix: np.ndarray
    rows: list
    cols: list
    kind: str = "prob"


@dataclass
class ModelTrace:
    task: str
    run: str
    inputs: list
    steps: list
    heatmaps: list            # per input: a list of Heatmap
    results: list             # per input: the prediction, as ``predict --json`` gives it
    params: list = field(default_factory=list)

    def to_json(self, full: bool = False) -> dict:
        return {"task": self.task, "run": self.run, "inputs": self.inputs,
                "steps": [{"step": s.number, "title": s.title, "lines": s.lines,
                           "tensors": [t.to_json(full) for t in s.tensors]} for s in self.steps],
                "heatmaps": [[{"title": h.title, "shape": list(h.matrix.shape), "rows": h.rows, "cols": h.cols,
                               "values": np.round(h.matrix, 6).tolist()} for h in maps] for maps in self.heatmaps],
                "results": self.results, "params": self.params}


def explain_run(run, inputs: list) -> ModelTrace:
    """Trace ``inputs`` (texts; for a forecaster, CSV paths) through the run's model: the task's walkthrough, as
    the registry names it (a classifier's is :func:`lstmkit.explain.trace.trace_classifier`, a :class:`Trace`)."""
    from ..tasks import load_run

    from ..tasks import task_specs

    task = load_run(run)
    spec = task_specs().get(task.name)
    if spec is None or spec.explain_tracer is None:
        raise ValueError(f"explain --run: no walkthrough for {task.name!r} runs yet")
    if not inputs:
        raise ValueError("give one or more TEXT arguments (or --file F): they form one batch")
    task.model.eval()
    with torch.no_grad():
        return spec.explain_tracer(task, str(run), list(inputs))


def _params(named: list) -> list:
    """Rows ``{name, total, symbolic, formula}`` from (name, module or ParamCount rows) pairs."""
    rows = []
    for name, item in named:
        if isinstance(item, list):      # an LSTM's param_counts(): one row per layer and direction
            rows += [{"name": f"{name} {r.name}", "total": r.total, "symbolic": r.symbolic, "formula": r.formula}
                     for r in item]
            continue
        shapes = [tuple(p.shape) for p in item.parameters()]
        total = sum(int(np.prod(s)) for s in shapes)
        rows.append({"name": name, "total": total, "symbolic": " + ".join("x".join(map(str, s)) for s in shapes),
                     "formula": f"{total:,}"})
    return rows


def _front(task, texts: list, tokenizer, vocab, start: int = 1) -> tuple[list, np.ndarray, np.ndarray, list]:
    """Steps 1-4 of every walkthrough: raw text, tokens, ids, padded ids + lengths."""
    tokens = [tokenizer(t) or ["<unk>"] for t in texts]
    ids = [vocab.encode(toks) for toks in tokens]
    padded, lengths = pad_sequences(ids)
    s1 = Step(start, "raw text", lines=[f"{len(texts)} input(s) form one batch: B = {len(texts)}"]
              + [f"input {b}: {t!r}" for b, t in enumerate(texts)])
    s2 = Step(start + 1, f"tokenize ({tokenizer!r})",
              lines=[f"input {b}: {len(t)} tokens: {' | '.join(t)}" for b, t in enumerate(tokens)])
    s3 = Step(start + 2, "dictionarize: token -> id",
              lines=[f"vocabulary: V = {len(vocab):,}; 0 = <pad>, 1 = <unk>"]
              + [f"input {b}: " + " ".join(f"{tok}={i}" for tok, i in zip(t, s)) for b, (t, s)
                 in enumerate(zip(tokens, ids))])
    s4 = Step(start + 3, "pad with 0 to one length").add("padded ids", "(B, T)", padded).add("lengths", "(B,)", lengths)
    return [s1, s2, s3, s4], padded, lengths, tokens


def _out(lstm) -> str:
    """The legend's letter for the size of ``h``: ``P`` when the run's cells project it (``num_proj``), else ``H``."""
    return "P" if getattr(lstm.cell(0), "num_proj", None) else "H"


def _cells(step: Step, lstm, name: str = "LSTM") -> None:
    """Say which cell the run's ``lstm`` steps with, its options included (peepholes, clipping, projection)."""
    step.lines.append(f"{name} cells ({lstm.num_layers} layer(s) x {lstm.num_directions} direction(s)), layer 0: "
                      f"{lstm.cell(0)!r}")


def _final_states(step: Step, finals, D: int, out: str = "H") -> None:
    for k, layer in enumerate(finals):
        pairs = layer if D == 2 else (layer,)
        for d, st in enumerate(pairs):
            tag = f"layer {k}" + (f" {'fw' if d == 0 else 'bw'}" if D == 2 else "")
            step.add(f"final c, {tag}", "(B, H)", st.c).add(f"final h, {tag}", f"(B, {out})", st.h)


def trace_tagger(task, run: str, texts: list) -> ModelTrace:
    from ..data.tagged import TaggedDataset
    from ..tasks.tag import FEATURES

    m = task.model
    steps, padded, lengths, tokens = _front(task, texts, task.tokenizer, task.vocab)
    enc = task.encode(TaggedDataset(tokens, None, "explain"))
    ids, lens = torch.from_numpy(padded), torch.from_numpy(lengths)
    feats = {k: torch.from_numpy(pad_sequences(enc[k])[0]) for k in FEATURES if enc.get(k) is not None}
    with recording() as rec:
        m(ids, lens, **feats)                                                   # (B, T, K)
    s5 = Step(5, "embedding lookup").add("embedded batch", "(B, T, E)", rec["embedded"])
    if m.bigram_embedding is not None:
        s5.lines.append("each token's vector plus the vector of the token with its successor (bigram features)")
    if m.char_embedding is not None:
        s5.lines.append("plus the vectors of each word's first and last character (word features)")
    if m.word_embedding is not None:
        tags = ([task.word_tag_vocab.decode(t) for t in enc["wordtag"]] if enc.get("wordtag") is not None
                else [[""] * len(t) for t in tokens])
        places = [" ".join(f"{t}/{'BMES'[i - 1]}{'/' + g if g else ''}" for t, i, g in zip(toks, pos, tg))
                  for toks, pos, tg in zip(tokens, enc["wordpos"], tags)]
        s5.lines.append(f"plus the vectors of each token's place in the word jieba finds"
                        f"{' and of its part of speech' if enc.get('wordtag') is not None else ''}: "
                        + " | ".join(places))
    if getattr(m, "lexicon", None) is not None:
        s5.lines.append(f"concatenated with each token's SoftLexicon vectors ({task.config.lexicon}): its B/M/E/S sets "
                        f"of lexicon words pooled by frequency, 4 x {task.config.lexicon_dim} values"
                        + (f", projected to {task.config.lexicon_proj}" if m.lexicon_proj is not None else ""))
    outputs, finals, emissions = rec["outputs"], rec["final_states"], rec["emissions"]   # (B, T, 2P), (B, T, K)
    P = _out(m.lstm)
    s6 = Step(6, "BiLSTM: every step's hidden state, both directions")
    _cells(s6, m.lstm)
    s6.add("outputs", f"(B, T, D*{P})", outputs, "forward h and backward h of each step, concatenated")
    _final_states(s6, finals, 2, P)
    K = len(task.labels)
    s7 = Step(7, f"per-step emissions: Linear(D*{P} -> K)").add("emissions", f"(B, T, K) = (B, T, {K})", emissions)
    if m.crf is not None:
        s8 = Step(8, "CRF: Viterbi over the tag sequence")
        s8.add("transitions", "(K, K)", m.crf.transitions, "score of tag j after tag i")
        s8.add("start", "(K,)", m.crf.start).add("end", "(K,)", m.crf.end)
    else:
        s8 = Step(8, "per-step softmax: the likeliest tag of each token")
    probs = torch.softmax(emissions, dim=2)
    results = task.predict_records(texts)
    for b, r in enumerate(results):
        s8.lines.append(f"input {b}: " + " ".join(f"{t}/{g}" for t, g in zip(r.get("tokens", []), r.get("tags", []))))
    steps += [s5, s6, s7, s8]
    maps = [[Heatmap(f"tag probabilities softmax(emissions)  (T, K) = ({int(n)}, {K})",
                     probs[b, : int(n)].numpy(), tokens[b], list(task.labels))] for b, n in enumerate(lengths)]
    tables = [("embedding", m.embedding), ("bigram embedding", m.bigram_embedding),
              ("character embedding", m.char_embedding), ("word-place embedding", m.word_embedding),
              ("word-tag embedding", m.word_tag_embedding)]
    params = _params([(name, t) for name, t in tables if t is not None] + [("lstm", m.lstm.param_counts()),
                     ("emissions", m.emit)] + ([("crf", m.crf)] if m.crf is not None else []))
    return ModelTrace("tag", run, texts, steps, maps, results, params)


def trace_seq2seq(task, run: str, texts: list) -> ModelTrace:
    m = task.model
    steps, padded, lengths, tokens = _front(task, texts, task.source_tokenizer, task.vocab)
    src, lens = torch.from_numpy(padded), torch.from_numpy(lengths)
    B, S = padded.shape
    D, H, out = m.directions, m.units, _out(m.encoder)
    P = m.output_size                                   # the size of h: num_proj, or H
    records = task.predict_records(texts, beam_size=task.config.beam_size, n_best=1)
    backwards = task.config.reverse_target               # the decoder writes the last token first
    written = [(r["tokens"] or [])[::-1] if backwards else (r["tokens"] or []) for r in records]
    outs = [task.target_vocab.encode(w) for w in written]
    tgt_in, _ = pad_sequences([[task.target_vocab.bos_id] + o for o in outs])
    with recording() as rec:                             # the search's outputs replayed by teacher forcing
        m(src, lens, torch.from_numpy(tgt_in))                                  # (B, T, V)
    s5 = Step(5, "source embedding lookup").add("embedded source", "(B, S, E)", rec["embedded_source"])
    s6 = Step(6, "encoder LSTM: the memory the decoder attends to")
    _cells(s6, m.encoder, "encoder")
    _cells(s6, m.decoder, "decoder")
    s6.add("memory (encoder outputs)", f"(B, S, D*{out}) = ({B}, {S}, {D}*{P})", rec["memory"],
           "zero at padded source steps")
    _final_states(s6, rec["encoder_final_states"], D, out)
    s7 = Step(7, "bridge: encoder final state -> decoder initial state")
    s7.lines.append(f"per layer: c of both directions concatenated (B, {D * H}) -> Linear -> tanh -> (B, {H}); h "
                    f"likewise (B, {D * P}) -> (B, {P})")
    for k, st in enumerate(rec["decoder_state"]):
        s7.add(f"decoder initial c, layer {k}", "(B, H)", st.c)
        s7.add(f"decoder initial h, layer {k}", f"(B, {out})", st.h)
    if "attention_keys" in rec:
        s7.add("attention keys", "(B, S, H or A)", rec["attention_keys"],
               f"{m.attention.score} score, computed once per batch")
    logits, weights = rec["logits"], rec.get("attention")                     # (B, T, V), (B, T, S) or None
    T = tgt_in.shape[1]
    s8 = Step(8, f"decoder: beam search (K = {task.config.beam_size}), then each output step replayed")
    s8.lines.append(f"each step: [embed(y_(t-1)) (B, {m.tgt_embedding.embedding_dim}); att_(t-1) (B, {P})] -> "
                    f"LSTM cell -> h_t (B, {P}) -> attention over S -> context (B, {D * P}) -> "
                    f"att_t = tanh(W_c [context; h_t]) (B, {P}) -> logits (B, V)")
    if backwards:
        s8.lines.append("this run writes each output right to left (--reverse-target): steps below run from the "
                        "last token to the first; the output reads left to right")
    s8.add("logits", f"(B, T, V) = ({B}, {T}, {logits.shape[2]})", logits)
    if weights is not None:
        s8.add("attention weights", f"(B, T, S) = ({B}, {T}, {S})", weights,
               "each row sums to 1 over the valid source steps; 0 at padding")
    s8.lines += [f"input {b}: {r['output']!r} (score {r['score']:.4f})" for b, r in enumerate(records)]
    steps += [s5, s6, s7, s8]
    maps = []
    for b in range(len(records)):
        rows = written[b] + ["<eos>"]
        if weights is None:
            maps.append([])
            continue
        maps.append([Heatmap(f"attention: output steps x source steps  (T, S) = ({len(rows)}, {int(lengths[b])})",
                             weights[b, : len(rows), : int(lengths[b])].numpy(), rows, tokens[b])])
    named = [("source embedding", m.src_embedding), ("target embedding", m.tgt_embedding),
             ("encoder", m.encoder.param_counts()), ("bridge", torch.nn.ModuleList([m.bridge_c, m.bridge_h])),
             ("decoder", m.decoder.param_counts())]
    if m.attention is not None:
        named += [("attention", m.attention), ("combine", m.combine)]
    named.append(("output", m.out))
    return ModelTrace("seq2seq", run, texts, steps, maps, records, _params(named))


def trace_lm(task, run: str, texts: list) -> ModelTrace:
    """A language model reads each text after <eos> (how its training stream separates texts) and predicts the
    next token at every step; a backward LM reads the text reversed."""
    m = task.model
    c = task.config
    tokens = [task.tokenizer(t) or ["<unk>"] for t in texts]
    eos = task.vocab.itos[task.vocab.eos_id]
    read = [[eos] + (t[::-1] if c.reverse else t) for t in tokens]                 # what the model reads
    ids = [task.vocab.encode(r) for r in read]
    padded, lengths = pad_sequences(ids)
    steps = [Step(1, "raw text", lines=[f"input {b}: {t!r}" for b, t in enumerate(texts)]),
             Step(2, f"tokenize ({task.tokenizer!r})" + (", then reverse (a backward LM)" if c.reverse else ""),
                  lines=[f"input {b}: {' | '.join(r)}" for b, r in enumerate(read)]),
             Step(3, "dictionarize, pad", lines=[f"vocabulary: V = {len(task.vocab):,}"])
             .add("padded ids", "(B, T)", padded).add("lengths", "(B,)", lengths)]
    with recording() as rec:
        m(torch.from_numpy(padded))                                                # (B, T, V)
    x, out, finals, logits = rec["embedded"], rec["outputs"], rec["final_states"], rec["logits"]
    probs = torch.softmax(logits, dim=2)
    steps.append(Step(4, "embedding lookup").add("embedded", "(B, T, E)", x))
    P = _out(m.lstm)
    s5 = Step(5, "LSTM: every step's h predicts the next token").add("outputs", f"(B, T, {P})", out)
    _cells(s5, m.lstm)
    _final_states(s5, finals, 1, P)
    steps.append(s5)
    s6 = Step(6, "softmax over the vocabulary" + (" (tied: the embedding matrix is the output layer)"
                                                  if c.tie_embeddings else ""))
    s6.add("logits", f"(B, T, V) = ({len(texts)}, {padded.shape[1]}, {len(task.vocab)})", logits)
    maps, results = [], task.predict_records(texts)
    for b, r in enumerate(read):
        n = int(lengths[b])
        p = probs[b, :n]                                                           # (T_b, V)
        top = p.topk(min(3, p.shape[1]), dim=1).indices
        cols = list(dict.fromkeys(int(i) for i in top.flatten().tolist()))[:12]
        for t in range(n):
            nxt = r[t + 1] if t + 1 < n else eos
            k = task.vocab.stoi.get(nxt, task.vocab.unk_id)
            s6.lines.append(f"input {b}, after {r[t]!r}: likeliest {task.vocab.itos[int(top[t, 0])]!r} "
                            f"({float(p[t, top[t, 0]]):.3f}); the text's next {nxt!r} ({float(p[t, k]):.3f})")
        maps.append([Heatmap(f"P(next token) for the likeliest tokens  (T, {len(cols)})", p[:, cols].numpy(),
                             [f"after {tok}" for tok in r], [task.vocab.itos[i] for i in cols])])
    steps.append(s6)
    named = [("embedding", m.embedding), ("lstm", m.lstm.param_counts())]
    if m.head is not None:
        named.append(("output", m.head))
    elif m.proj is not None:
        named.append(("projection to E (tied output)", m.proj))
    return ModelTrace("lm", run, texts, steps, maps, results, _params(named))


def trace_regress(task, run: str, paths: list) -> ModelTrace:
    """A forecaster reads the last window of each CSV: raw values -> normalised (relative) inputs -> LSTM ->
    the final h -> Linear -> the next H values."""
    from ..data.series import read_series

    m, c = task.model, task.config
    datas = [read_series(p, c.columns, min_rows=c.window, why=f"the run reads the last {c.window} rows")
             for p in paths]
    raw = np.stack([d.matrix(c.columns)[-c.window:] for d in datas])               # (B, T, I)
    with recording() as rec:
        m(torch.from_numpy(task._model_inputs(raw)[0].astype(np.float32)))         # (B, H)
    x, out, finals = rec["window"], rec["outputs"], rec["final_states"]           # (B, T, I), (B, T, D*units)
    B, T, I = raw.shape
    steps = [Step(1, "the last window of each series", lines=[f"input {b}: {d.source}, columns {c.columns}"
                                                               for b, d in enumerate(datas)])
             .add("raw window", f"(B, T, I) = ({B}, {T}, {I})", raw),
             Step(2, "normalise with the training statistics" + (", relative to the last value" if c.relative
                                                                 else "")).add("model inputs", "(B, T, I)", x)]
    s3 = Step(3, "LSTM over the window").add("outputs", f"(B, T, D*{_out(m.lstm)})", out)
    _cells(s3, m.lstm)
    _final_states(s3, finals, m.lstm.num_directions, _out(m.lstm))
    s4 = Step(4, f"head: Linear(D*H -> H={c.horizon}), back to the target's units")
    s4.add("outputs", f"(B, H) = ({B}, {c.horizon})", rec["forecast"])
    results = task.predict_records(datas)
    s4.lines += [f"input {b}: forecast {r['forecast']}" for b, r in enumerate(results)]
    steps += [s3, s4]
    maps = [[Heatmap(f"model inputs (T, I) = ({T}, {I})", x[b].numpy(), [f"t-{T - 1 - t}" for t in range(T)],
                     list(c.columns), "signed")] for b in range(B)]
    return ModelTrace("regress", run, [str(p) for p in paths], steps, maps, results,
                      _params([("lstm", m.lstm.param_counts()), ("head", m.head)]))


def render_model_text(tr: ModelTrace) -> str:
    out = [f"lstmkit explain: a {tr.task} run ({tr.run}), B={len(tr.inputs)}", ""]
    for step in tr.steps:
        out.append(f"== {step.number}. {step.title}")
        out += [f"  {line}" for line in step.lines]
        out += [f"  {tensor_line(t)}" for t in step.tensors]
        out.append("")
    for b, maps in enumerate(tr.heatmaps):
        for h in maps:
            out.append(f"== input {b}: {h.title}")
            width = max(len(str(c)) for c in h.cols) + 1
            out.append("  " + " " * 12 + "".join(f"{str(c):>{max(width, 6)}}" for c in h.cols))
            for label, row in zip(h.rows, h.matrix):
                out.append(f"  {str(label):>12}" + "".join(f"{v:>{max(width, 6)}.2f}" for v in row))
            out.append("")
    if tr.params:
        out.append("== parameters")
        width = max(len(p["name"]) for p in tr.params)
        out += [f"  {p['name']:<{width}}  {p['formula']}" for p in tr.params]
        out.append(f"  {'total':<{width}}  {sum(p['total'] for p in tr.params):,}")
    return "\n".join(out)

