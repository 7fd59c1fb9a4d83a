"""The walkthrough as data: every step of the pipeline for real texts, with real shapes and values.

``trace(texts, ...)`` runs raw text -> tokens -> ids -> padded ids + lengths -> embeddings -> LSTM (step by
step for layer 0's forward cell: x_t, [x_t, h_{t-1}], the kernel, the gates i, j, f, o, the new c and h) ->
outputs and final states -> the classifier head, and returns a :class:`Trace` that the text and JSON
renderings read. Either a fresh model of the given sizes (random weights, vocabulary built from the texts)
or, with ``run=``, a trained classifier's tokenizer, vocabulary and weights.

The embedded batch, the outputs, the final states and the logits are the model's own, recorded while its
``forward`` runs (:func:`lstmkit.nn.recording`; ``TextClassifier``'s docstring lists the names). The one thing
computed here is the didactic loop of step 6, layer 0's forward cell one step at a time; it is checked against
the recorded tensors, and a walkthrough that no longer matches its model raises instead of showing something else.

Shape legend: ``B`` batch, ``T`` time steps, ``E`` embedding size, ``H`` units, ``P`` projection size,
``D`` directions, ``K`` classes, ``V`` vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import TextDataset
from ..nn import CellConfig, LSTMStateTuple, recording
from ..tasks.classify import ClassifyConfig, ClassifyTask
from ..text import pad_sequences


@dataclass
class Tensor:
    """One tensor of the walkthrough: its name, shape, the shape in the legend, and its values."""

    name: str
    legend: str
    values: np.ndarray
    note: str = ""

    @property
    def shape(self) -> tuple:
        return tuple(self.values.shape)

    def to_json(self, full: bool = False, limit: int = 8) -> dict:
        v = self.values
        out = {"name": self.name, "shape": list(self.shape), "legend": self.legend}
        if self.note:
            out["note"] = self.note
        if full or v.size <= limit:
            out["values"] = v.tolist()
        else:
            flat = v.reshape(-1)
            out["first"] = flat[:limit].tolist()
        if v.size and np.issubdtype(v.dtype, np.floating):
            out.update(min=float(v.min()), max=float(v.max()), mean=float(v.mean()))
        return out


@dataclass
class Step:
    number: int
    title: str
    tensors: list = field(default_factory=list)
    lines: list = field(default_factory=list)     # plain facts, already worded

    def add(self, name, legend, values, note="") -> "Step":
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().numpy()
        self.tensors.append(Tensor(name, legend, np.asarray(values), note))
        return self


@dataclass
class Trace:
    """The whole walkthrough: the configuration, the eight steps, the time steps of layer 0 and the params."""

    config: dict
    steps: list
    time_steps: list          # per t: {"t", "tokens", "valid", tensors...} for layer 0's forward cell
    params: list              # rows {"name", "total", "symbolic", "formula"}
    texts: list
    tokens: list
    labels: list | None = None
    prediction: list | None = None

    def to_json(self, full: bool = False) -> dict:
        return {
            "config": self.config,
            "texts": self.texts,
            "tokens": self.tokens,
            "steps": [{"step": s.number, "title": s.title, "lines": s.lines,
                       "tensors": [t.to_json(full) for t in s.tensors]} for s in self.steps],
            "time_steps": [{"t": ts["t"], "tokens": ts["tokens"], "valid": ts["valid"],
                            "tensors": [t.to_json(full) for t in ts["tensors"]]} for ts in self.time_steps],
            "params": self.params,
            "prediction": self.prediction,
        }


def _fresh_task(texts, tokenizer, maxlen, embedding_dim, units, layers, bidirectional, cell, num_proj,
                peepholes, classes, seed):
    """An untrained classifier of the given sizes; its vocabulary comes from the texts themselves."""
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an int >= 2, got {classes!r}")
    options = {}
    if num_proj is not None or peepholes:
        cell, options = "lstm", {"num_proj": num_proj, "use_peepholes": bool(peepholes)}
    torch.manual_seed(seed)
    config = ClassifyConfig(tokenizer={"name": tokenizer} if isinstance(tokenizer, str) else tokenizer,
                            maxlen=maxlen, embedding_dim=embedding_dim, units=units, layers=layers,
                            bidirectional=bidirectional, cell=cell, cell_options=options, bigrams=False,
                            dropout=0.0, token_dropout=0.0)
    labels = [f"class {k}" for k in range(classes)]
    # the labels only name the head's classes; every class needs one text for the label set to exist
    names = [labels[k % classes] for k in range(max(len(texts), classes))]
    padded_texts = list(texts) + [texts[0]] * (len(names) - len(texts))
    return ClassifyTask.from_data(config, TextDataset(padded_texts, names, "explain"))


def trace(texts, tokenizer="jieba", maxlen: int | None = None, embedding_dim: int = 28, units: int = 128,
          layers: int = 1, bidirectional: bool = False, cell: str = "basic", num_proj: int | None = None,
          peepholes: bool = False, classes: int = 2, run=None, seed: int = 0) -> Trace:
    """Trace ``texts`` (one batch) through the pipeline; see the module docstring."""
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("explain: texts must be strings")
    if not texts:
        raise ValueError("explain: give at least one text")
    if run is not None:
        from ..tasks import load_run

        task = load_run(run)
        if task.name != "classify":
            raise ValueError(f"explain --run reads classifier runs; {run} is a {task.name!r} run")
    else:
        task = _fresh_task(texts, tokenizer, maxlen or 200, embedding_dim, units, layers, bidirectional, cell,
                           num_proj, peepholes, classes, seed)
    return _walk(task, texts, maxlen, run)


def trace_classifier(task, run, texts) -> Trace:
    """The walkthrough of a trained classifier run (the registry's ``explain`` for ``classify``)."""
    return _walk(task, list(texts), None, run)


def _walk(task, texts: list, maxlen, run) -> Trace:
    model = task.model.eval()
    maxlen = maxlen or task.config.maxlen
    lstm = model.lstm
    E, H, D = lstm.input_size, lstm.num_units, lstm.num_directions
    P = lstm.cell(0).output_size
    steps = []

    steps.append(Step(1, "raw text", lines=[f"{len(texts)} text(s) form one batch: B = {len(texts)}"]
                      + [f"text {b}: {t!r}" for b, t in enumerate(texts)]))
    tokens = [task.tokenizer(t)[:maxlen] for t in texts]
    s2 = Step(2, f"tokenize ({task.tokenizer!r})")
    s2.lines += [f"text {b}: {len(toks)} tokens: {' | '.join(toks)}" for b, toks in enumerate(tokens)]
    steps.append(s2)

    enc = task.encode(TextDataset(texts, None, "explain"))
    ids = [seq[:maxlen] for seq in enc.ids]
    s3 = Step(3, "dictionarize: token -> id")
    where = "the run's" if run is not None else "built from these texts"
    s3.lines.append(f"vocabulary ({where}): V = {len(task.vocab):,}; 0 = <pad>, 1 = <unk>")
    for b, (toks, seq) in enumerate(zip(tokens, ids)):
        s3.lines.append(f"text {b}: " + " ".join(f"{tok}={i}" for tok, i in zip(toks or ["<unk>"], seq)))
    steps.append(s3)

    padded, lengths = pad_sequences(ids)
    T = padded.shape[1]
    s4 = Step(4, "pad with 0 to one length")
    s4.add("padded ids", "(B, T)", padded).add("lengths", "(B,)", lengths)
    s4.lines.append(f"T = {T} (the longest text); shorter ones end in <pad> = 0, and lengths mark the real steps")
    steps.append(s4)

    ids_t, lens_t = torch.from_numpy(padded), torch.from_numpy(lengths)
    bigrams = (torch.from_numpy(pad_sequences(enc.bigrams)[0][:, :T]) if model.bigram_embedding is not None
               else None)                                                      # (B, T)
    with torch.no_grad(), recording() as rec:
        model(ids_t, lens_t, bigrams)                       # steps 5, 7 and 8 show what the model records
    x = rec["embedded"]                                                        # (B, T, E)
    s5 = Step(5, "embedding lookup")
    s5.add("embedding table", "(V, E)", model.embedding.weight.detach())
    note = "row 0 of the table (<pad>) is zeros"
    if model.bigram_embedding is not None:
        s5.add("bigram embedding table", "(V_bigrams, E)", model.bigram_embedding.weight.detach())
        note = "each token's vector plus the vector of the token with its successor; " + note
    s5.add("embedded batch", "(B, T, E)", x, note)
    steps.append(s5)

    time_steps, s6 = _walk_layer0(lstm.cell(0), x, lens_t, tokens)
    check_layer0(time_steps, rec, lstm)
    steps.append(s6)

    outputs, final, logits = rec["outputs"], rec["final_states"], rec["logits"]   # (B, T, D*P), ..., (B, K)
    probs = torch.softmax(logits, dim=1)
    s7 = Step(7, "every step's hidden state and the final state")
    s7.add("outputs", f"(B, T, D*P) = ({len(texts)}, {T}, {D}*{P})", outputs,
           "zero at padded steps: " + ", ".join(f"text {b} steps {int(n)}..{T - 1}" for b, n in enumerate(lengths)
                                               if n < T) if (lengths < T).any() else "no padded steps")
    for k, layer_state in enumerate(final):
        pairs = layer_state if D == 2 else (layer_state,)
        for d, st in enumerate(pairs):
            tag = f"layer {k}" + (f" {'fw' if d == 0 else 'bw'}" if D == 2 else "")
            s7.add(f"final c, {tag}", "(B, H)", st.c).add(f"final h, {tag}", "(B, P)", st.h)
    steps.append(s7)

    s8 = Step(8, f"head: {task.config.pooling} pooling -> Linear -> softmax")
    s8.add("logits", f"(B, K) = ({len(texts)}, {len(task.labels)})", logits).add("softmax", "(B, K)", probs)
    prediction = [{"label": task.labels[int(p.argmax())], "probability": float(p.max())} for p in probs]
    s8.lines += [f"text {b}: {p['label']} ({p['probability']:.4f})" for b, p in enumerate(prediction)]
    steps.append(s8)

    params = [{"name": "embedding", "total": model.embedding.weight.numel(), "symbolic": "V * E",
               "formula": f"{len(task.vocab):,} * {E} = {model.embedding.weight.numel():,}"}]
    params += [{"name": r.name, "total": r.total, "symbolic": r.symbolic, "formula": r.formula}
               for r in lstm.param_counts()]
    head_n = sum(p.numel() for p in model.head.parameters())
    params.append({"name": "head", "total": head_n, "symbolic": "(D*P) * K + K",
                   "formula": f"{model.head.in_features} * {model.head.out_features} + {model.head.out_features}"
                              f" = {head_n:,}"})
    config = {"tokenizer": task.tokenizer.config(), "maxlen": maxlen, "B": len(texts), "T": T, "E": E, "H": H,
              "P": P, "D": D, "layers": lstm.num_layers, "cell": type(lstm.cell(0)).__name__,
              "K": len(task.labels), "V": len(task.vocab), "run": None if run is None else str(run),
              "forget_bias": lstm.cell(0).forget_bias, "cell_options": CellConfig.of(task.config).options(),
              "pooling": task.config.pooling,
              "pooled": model.head.in_features}
    return Trace(config, steps, time_steps, params, texts, tokens, task.labels, prediction)


def check_layer0(rows: list, rec, lstm, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Hold step 6's hand-stepped loop (``rows``, from :func:`_walk_layer0`) to the model's own recorded tensors:
    the final state of layer 0's forward cell always, and with one layer also h at every valid step (the forward
    half of the recorded outputs; deeper stacks keep layer 0's outputs inside the fused kernel). Raises
    ``RuntimeError`` naming the tensor and the largest difference when they disagree."""
    P = lstm.cell(0).output_size
    first = rec["final_states"][0]
    fw = first[0] if lstm.bidirectional else first                             # LSTMStateTuple(c (B, H), h (B, P))
    last = {t.name: t.values for t in rows[-1]["tensors"]}       # padding carries the state: the final one
    pairs = [("final c of layer 0's forward cell", last["c_t"], fw.c.cpu().numpy()),
             ("final h of layer 0's forward cell", last["h_t"], fw.h.cpu().numpy())]
    if lstm.num_layers == 1:
        valid = np.array([r["valid"] for r in rows]).T[:, :, None]             # (B, T, 1)
        walked = np.stack([next(t.values for t in r["tensors"] if t.name == "h_t") for r in rows], axis=1)
        pairs.append(("outputs of layer 0's forward cell (valid steps)", np.where(valid, walked, 0.0),
                      np.where(valid, rec["outputs"][..., :P].cpu().numpy(), 0.0)))   # (B, T, P) each
    for what, walked, recorded in pairs:
        if walked.shape != recorded.shape or not np.allclose(walked, recorded, rtol=rtol, atol=atol):
            got = (f"a largest difference of {float(np.abs(walked - recorded).max()):.3g}"
                   if walked.shape == recorded.shape else f"shapes {walked.shape} and {recorded.shape}")
            raise RuntimeError(f"explain: the step-by-step loop disagrees with the model's own {what}: expected "
                               f"them equal within rtol={rtol}, atol={atol}, got {got}; the walkthrough no longer "
                               f"matches the model")


def _walk_layer0(cell, x, lengths, tokens):
    """Step 6 by hand for layer 0's forward cell, with TensorFlow's concat order [x_t, h_{t-1}]."""
    B, T, E = x.shape
    H, P = cell.num_units, cell.proj_size
    state = LSTMStateTuple(x.new_zeros(B, H), x.new_zeros(B, P))
    step = Step(6, "one token per time step into the LSTM (layer 0, forward cell)")
    step.add("kernel", f"(E + P, 4H) = ({E} + {P}, 4*{H}) = ({E + P}, {4 * H})", cell.kernel.detach(),
             "rows [x_t, h_(t-1)], columns the gates i, j, f, o")
    step.add("bias", f"(4H,) = ({4 * H},)", cell.bias.detach(), f"forget_bias = {cell.forget_bias} is added to f")
    step.lines.append(f"each step: [x_t, h_(t-1)] ({B}, {E} + {P} = {E + P}) @ kernel ({E + P}, {4 * H}) + bias "
                      f"-> gates ({B}, {4 * H}) -> i, j, f, o ({B}, {H}) each; the same weights at every step")
    step.lines.append("TensorFlow concatenates [x_t, h_(t-1)] and the kernel's rows follow that order; the "
                      "walkthrough writes [h_(t-1), x_t]: the same product with the kernel's row blocks swapped")
    peep = getattr(cell, "use_peepholes", False)
    if peep:
        step.lines.append(f"peepholes (H,) = ({H},) each: w_i_diag * c_(t-1) joins i, w_f_diag * c_(t-1) joins f, "
                          f"w_o_diag * c_t joins o")
    if getattr(cell, "cell_clip", None) is not None:
        step.lines.append(f"c_t is clipped to [-{cell.cell_clip:g}, {cell.cell_clip:g}] (cell_clip)")
    layer_norm = getattr(cell, "layer_norm_epsilon", None) is not None
    if layer_norm:
        step.lines.append(f"layer normalisation (LayerNormLSTMCell): gates = LN(x_t @ kernel[:E]) * gamma_x + "
                          f"LN(h_(t-1) @ kernel[E:]) * gamma_h + bias, each LN over the {4 * H} gate units; "
                          f"h_t = sigmoid(o) * act(LN(c_t) * gamma_c + beta_c), and the state keeps c_t itself "
                          f"(LN(v) = (v - mean) / sqrt(var + {cell.layer_norm_epsilon:g}))")
    if getattr(cell, "zoneout", False):
        step.lines.append(f"zoneout: each unit of c (h) keeps its previous value with probability "
                          f"{cell.zoneout_c:g} ({cell.zoneout_h:g}) in training; here (evaluation) c_t and h_t "
                          f"are the expectation z * previous + (1 - z) * new")
    if getattr(cell, "num_proj", None) is not None:
        clip = "" if cell.proj_clip is None else f", clipped to [-{cell.proj_clip:g}, {cell.proj_clip:g}]"
        step.lines.append(f"h_t = sigmoid(o) * act(c_t) (B, {H}) @ projection_kernel ({H}, {P}) -> (B, {P}){clip}")
    rows = []
    with torch.no_grad():
        for t in range(T):
            x_t = x[:, t]                                                       # (B, E)
            concat = torch.cat([x_t, state.h], dim=1)                           # (B, E + P)
            gates = cell.gates(x_t, state.h) if layer_norm else concat @ cell.kernel + cell.bias     # (B, 4H)
            i, j, f, o = gates.chunk(4, dim=1)                                  # each (B, H)
            _, new = cell.recurrent_step(cell.project_inputs(x_t), state)
            # the gates as the cell applies them: with peepholes, c joins i and f (c_(t-1)) and o (c_t)
            gi, gf, go = ((i + cell.w_i_diag * state.c, f + cell.w_f_diag * state.c, o + cell.w_o_diag * new.c)
                          if peep else (i, f, o))
            valid = (t < lengths)
            m = valid.unsqueeze(1)
            state = LSTMStateTuple(torch.where(m, new.c, state.c), torch.where(m, new.h, state.h))
            note = "the peephole term w_*_diag * c included" if peep else ""
            tensors = [Tensor("x_t", "(B, E)", x_t.numpy()), Tensor("[x_t, h_(t-1)]", "(B, E + P)", concat.numpy()),
                       Tensor("i", "(B, H)", i.numpy(), "input gate pre-activation"),
                       Tensor("j", "(B, H)", j.numpy(), "candidate pre-activation"),
                       Tensor("f", "(B, H)", f.numpy(), "forget gate pre-activation"),
                       Tensor("o", "(B, H)", o.numpy(), "output gate pre-activation"),
                       Tensor("sigmoid(i)", "(B, H)", torch.sigmoid(gi).numpy(), note),
                       Tensor("sigmoid(f + forget_bias)", "(B, H)", torch.sigmoid(gf + cell.forget_bias).numpy(),
                              note),
                       Tensor("sigmoid(o)", "(B, H)", torch.sigmoid(go).numpy(), note),
                       Tensor("c_t", "(B, H)", state.c.numpy()), Tensor("h_t", "(B, P)", state.h.numpy())]
            rows.append({"t": t, "tokens": [toks[t] if t < len(toks) else "<pad>" for toks in tokens],
                         "valid": valid.tolist(), "tensors": tensors})
    return rows, step
