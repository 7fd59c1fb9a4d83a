"""ONNX export of classifier and tagger runs, built node by node from the weights (no tracing).

Why not ``torch.onnx.export``: lstmkit runs variable lengths as one fused call per distinct length, and PyTorch's
exporter cannot export ``pack_padded_sequence`` and freezes the traced sequence length into output shapes. The
ONNX ``LSTM`` operator has what we need natively: ``sequence_lens``, with which its forward direction stops at
each length (outputs 0 past it, ``Y_h`` the state at the last valid step) and its reverse direction reads each
sequence reversed *within its length*: TensorFlow's ``dynamic_rnn`` / ``bidirectional_dynamic_rnn`` semantics,
which lstmkit's own engine follows. So padding never changes a real position's output, bidirectional included.

The graph (``B`` and ``T`` dynamic; ``E`` embedding size, ``H`` units, ``D`` directions, ``K`` classes/tags):

    ids (B, T) int64, lengths (B,) int64 [, token features (B, T) int64: bigrams; a tagger's first, last
    (characters of each word), wordpos (place in jieba's word), wordtag (that word's part of speech)]
    [, a tagger's lexicon (B, T * 4 * W) int64: each token's B/M/E/S lexicon word ids, W per set]
    -> Gather(embedding)  (+ Gather(each feature's embedding))  (B, T, E)
    [-> Concat with the SoftLexicon pooling: Gather(z) -> 4 z / Z, MatMul with Gather(lexicon vectors)  (B, T, E+4Dw)]
    -> Transpose                                             (T, B, E)
    -> per layer: LSTM(W, R, B, sequence_lens[, P: peepholes]) -> Y (T, D, B, H) -> Transpose + Reshape (T, B, D*H)
    -> classifier: pooling over valid steps (max / mean / last / max+mean) -> MatMul + Add -> logits (B, K),
       Softmax -> probabilities (B, K)
    -> tagger: MatMul + Add -> emissions (B, T, K); the CRF's Viterbi decode runs after the graph (in lstmkit,
       on these emissions: ``predict --backend onnx`` does it), because a dynamic-programming loop with
       back-pointers is clearer and as fast outside ONNX.
    -> seq2seq: the encoder only: memory (B, S, D*H) and the bridged decoder initial states; the attentional
       decoder's step loop and beam search stay in lstmkit.

Weights go through :func:`lstmkit.convert.tf_to_onnx` (gate order i, o, f, c; forget_bias folded into the bias;
peepholes as the ``P`` input). What ONNX's ``LSTM`` cannot hold is an error naming the option: TensorFlow's
``cell_clip`` clips the cell state ``c`` (ONNX's ``clip`` bounds the gates' pre-activations instead), and ONNX has
no output projection (``num_proj``, ``proj_clip``).
"""
from __future__ import annotations

import numpy as np
import torch

from ..convert import tf_to_onnx

OPSET = 17


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install onnx onnxruntime "
                          "(or lstmkit[interop])") from None
    return onnx


class _Graph:
    """A little builder: initializers, nodes, unique names."""

    def __init__(self):
        self.onnx = _require_onnx()
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, name: str, value) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list, n_out: int = 1, name: str | None = None, **attrs):
        """Add a node; its outputs get fresh names, or ``name`` (a graph output's) for a single output."""
        self.n += 1
        outs = [name] if name else [f"{op_type.lower()}_{self.n}_{k}" for k in range(n_out)]
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs


# what ONNX's LSTM cannot hold: (the cell's attribute, its option on the command line, why)
_NO_ONNX_FORM = (("num_proj", "--num-proj", "ONNX's LSTM has no output projection"),
                 ("proj_clip", "--proj-clip", "ONNX's LSTM has no output projection to clip"),
                 ("cell_clip", "--cell-clip", "it clips the cell state c, and ONNX's LSTM clip bounds the gates' "
                                              "pre-activations instead"),
                 ("layer_norm_epsilon", "--cell layernorm", "ONNX's LSTM has no layer normalisation"),
                 ("zoneout_c", "--zoneout", "ONNX's LSTM has no zoneout (evaluation mixes each step's c with the "
                                            "previous one)"),
                 ("zoneout_h", "--zoneout", "ONNX's LSTM has no zoneout (evaluation mixes each step's h with the "
                                            "previous one)"))


def check_exportable(lstm) -> None:
    """A ``ValueError`` naming the first cell option of ``lstm`` that ONNX's ``LSTM`` cannot hold (the command
    line's name for it too); peepholes and ``forget_bias`` export."""
    for k in range(lstm.num_layers):
        for d in range(lstm.num_directions):
            cell = lstm.cell(k, d)
            for attr, flag, why in _NO_ONNX_FORM:
                value = getattr(cell, attr, None)
                if value:                  # None or 0: not set
                    raise ValueError(f"no ONNX form for {attr}={value:g} ({flag}): {why}; export a run "
                                     f"trained without {flag}")
            if cell.activation not in ("tanh", "relu"):
                raise ValueError(f"layer {k}: activation {cell.activation!r} has no ONNX form here (tanh, relu)")


def _onnx_weights(lstm, k: int) -> tuple:
    """W (D, 4H, I), R (D, 4H, H), B (D, 8H) for layer ``k``, and P (D, 3H) when its cells have peepholes (else
    None); the cells passed :func:`check_exportable`."""
    Ws, Rs, Bs, Ps = [], [], [], []
    for d in range(lstm.num_directions):
        cell = lstm.cell(k, d)
        peep = ({n: getattr(cell, n).detach().cpu().numpy().astype(np.float32)
                 for n in ("w_f_diag", "w_i_diag", "w_o_diag")} if getattr(cell, "use_peepholes", False) else {})
        w = tf_to_onnx(cell.kernel.detach().cpu().numpy().astype(np.float32),
                       cell.bias.detach().cpu().numpy().astype(np.float32), cell.input_size, cell.forget_bias,
                       **peep)
        Ws.append(w["W"])
        Rs.append(w["R"])
        Bs.append(w["B"])
        Ps.append(w.get("P"))
    P = np.stack(Ps) if Ps[0] is not None else None
    return np.stack(Ws), np.stack(Rs), np.stack(Bs), P


_FEATURES = (("bigrams", "bigram_embedding"), ("first", "char_embedding"), ("last", "char_embedding"),
             ("wordpos", "word_embedding"), ("wordtag", "word_tag_embedding"))


def feature_inputs(model) -> list[tuple[str, str]]:
    """``(input name, embedding attribute)`` of each token feature whose embedding ``model`` adds to the
    token's: the graph's inputs after ids and lengths, named as the task's batches name them."""
    return [(name, attr) for name, attr in _FEATURES if getattr(model, attr, None) is not None]


def _soft_lexicon(g: _Graph, lexicon, x: str, proj=None) -> str:
    """``x`` (B, T, E) with each token's SoftLexicon vectors after it (B, T, E + 4Dw), from the ``lexicon`` input
    (B, T * 4 * W): :class:`lstmkit.text.lexicon.SoftLexicon`'s ``4 / Z * sum z(w) e(w)``."""
    bt = g.op("Shape", ["ids"])                                                                    # [B, T]
    words = g.op("Reshape", ["lexicon", g.op("Concat", [bt, g.const("sets_w", np.array([4, -1], np.int64))],
                                             axis=0)])                                             # (B, T, 4, W)
    z = g.op("Gather", [g.const("lexicon_z", lexicon.z.detach().cpu().numpy()), words])           # (B, T, 4, W)
    total = g.op("Max", [g.op("ReduceSum", [z, g.const("axes_sets", np.array([2, 3], np.int64))], keepdims=1),
                         g.const("one_f", np.array(1.0, np.float32))])                            # (B, T, 1, 1)
    share = g.op("Div", [g.op("Mul", [z, g.const("four", np.array(4.0, np.float32))]), total])    # (B, T, 4, W)
    vectors = g.op("Gather", [g.const("lexicon_vectors", lexicon.embedding.weight.detach().cpu().numpy()),
                              words])                                                              # (B, T, 4, W, Dw)
    pooled = g.op("MatMul", [g.op("Unsqueeze", [share, g.const("axis_3", np.array([3], np.int64))]),
                             vectors])                                                             # (B, T, 4, 1, Dw)
    flat = g.op("Reshape", [pooled, g.op("Concat", [bt, g.const("minus_one", np.array([-1], np.int64))],
                                         axis=0)])                                                 # (B, T, 4Dw)
    if proj is not None:                                                    # a tagger's lexicon_proj: (B, T, N)
        flat = _linear(g, flat, proj, "lexicon_proj")
    return g.op("Concat", [x, flat], axis=2)                                                      # (B, T, E+4Dw)


def _encoder(g: _Graph, model, features: list, lstm=None, embedding=None) -> tuple[str, list, str]:
    """ids/lengths [/features] -> the top layer's Y as (T, B, D*H), every layer's (Y_h, Y_c) (D, B, H), lengths
    int32."""
    lstm = lstm if lstm is not None else model.lstm
    check_exportable(lstm)
    embedding = embedding if embedding is not None else model.embedding
    x = g.op("Gather", [g.const("embedding", embedding.weight.detach().cpu().numpy()), "ids"])    # (B, T, E)
    tables = {}
    for name, attr in features:                 # first and last share one table
        if attr not in tables:
            tables[attr] = g.const(attr, getattr(model, attr).weight.detach().cpu().numpy())
        x = g.op("Add", [x, g.op("Gather", [tables[attr], name])])
    if getattr(model, "lexicon", None) is not None:
        x = _soft_lexicon(g, model.lexicon, x, getattr(model, "lexicon_proj", None))
    x = g.op("Transpose", [x], perm=[1, 0, 2])                                                     # (T, B, E)
    lens32 = g.op("Cast", ["lengths"], to=6)                                                       # int32
    direction = "bidirectional" if lstm.bidirectional else "forward"
    finals = []
    for k in range(lstm.num_layers):
        W, R, B, P = _onnx_weights(lstm, k)
        act = lstm.cell(k).activation
        attrs = {"hidden_size": lstm.num_units, "direction": direction}
        if act != "tanh":
            attrs["activations"] = ["Sigmoid", "Relu", "Relu"] * lstm.num_directions
        inputs = [x, g.const(f"W_{k}", W), g.const(f"R_{k}", R), g.const(f"B_{k}", B), lens32]
        if P is not None:                                   # no initial_h, initial_c: zeros, as in lstmkit
            inputs += ["", "", g.const(f"P_{k}", P)]                                               # (D, 3H)
        y, y_h, y_c = g.op("LSTM", inputs, 3, **attrs)                                             # (T, D, B, H)
        finals.append((y_h, y_c))
        y = g.op("Transpose", [y], perm=[0, 2, 1, 3])                                              # (T, B, D, H)
        x = g.op("Reshape", [y, g.const(f"shape_{k}", np.array([0, 0, -1], np.int64))])           # (T, B, D*H)
    return x, finals, lens32


def _valid_mask(g: _Graph, y: str) -> str:
    """(T, B, 1) bool: t < lengths[b]."""
    T = g.op("Gather", [g.op("Shape", [y]), g.const("zero", np.array(0, np.int64))])
    t = g.op("Range", [g.const("start", np.array(0, np.int64)), T, g.const("one", np.array(1, np.int64))])
    less = g.op("Less", [g.op("Unsqueeze", [t, g.const("axis1", np.array([1], np.int64))]),
                         g.op("Unsqueeze", ["lengths", g.const("axis0", np.array([0], np.int64))])])  # (T, B)
    return g.op("Unsqueeze", [less, g.const("axis2", np.array([2], np.int64))])


def _linear(g: _Graph, x: str, linear, prefix: str, name: str | None = None) -> str:
    w = g.const(f"{prefix}_weight", linear.weight.detach().cpu().numpy().T.astype(np.float32))
    return g.op("Add", [g.op("MatMul", [x, w]), g.const(f"{prefix}_bias", linear.bias.detach().cpu().numpy())],
                name=name)


def build_classifier_graph(task):
    """The ONNX model of a :class:`ClassifyTask` (see the module docstring)."""
    model, c = task.model, task.config
    g = _Graph()
    y, finals, _ = _encoder(g, model, feature_inputs(model))
    pooled = []
    if c.pooling == "last":
        top = g.op("Transpose", [finals[-1][0]], perm=[1, 0, 2])                                             # (B, D, H)
        pooled.append(g.op("Reshape", [top, g.const("shape_last", np.array([0, -1], np.int64))]))  # (B, D*H)
    mask = _valid_mask(g, y) if c.pooling != "last" else None
    if c.pooling in ("max", "max+mean"):
        neg = g.op("Where", [mask, y, g.const("neg_inf", np.array(-np.inf, np.float32))])
        pooled.append(g.op("ReduceMax", [neg], axes=[0], keepdims=0))                             # (B, D*H)
    if c.pooling in ("mean", "max+mean"):
        zeroed = g.op("Where", [mask, y, g.const("zero_f", np.array(0.0, np.float32))])
        total = g.op("ReduceSum", [zeroed, g.const("axes0", np.array([0], np.int64))], keepdims=0)
        count = g.op("Unsqueeze", [g.op("Cast", ["lengths"], to=1), g.const("axis_b", np.array([1], np.int64))])
        pooled.append(g.op("Div", [total, count]))
    x = pooled[0] if len(pooled) == 1 else g.op("Concat", pooled, axis=1)
    _linear(g, x, model.head, "head", name="logits")
    g.op("Softmax", ["logits"], axis=1, name="probabilities")
    return _model(g, task, ["logits", "probabilities"], [("logits", ["B", len(task.labels)]),
                                                         ("probabilities", ["B", len(task.labels)])])


def build_tagger_graph(task):
    """The ONNX model of a :class:`TagTask`: emissions (B, T, K); decoding follows outside the graph."""
    model = task.model
    g = _Graph()
    y, _, _ = _encoder(g, model, feature_inputs(model))
    emissions = _linear(g, y, model.emit, "emit")                                                  # (T, B, K)
    g.op("Transpose", [emissions], perm=[1, 0, 2], name="emissions")
    return _model(g, task, ["emissions"], [("emissions", ["B", "T", len(task.labels)])])


def build_seq2seq_encoder_graph(task):
    """The encoder of a :class:`Seq2SeqTask`: ``memory (B, S, D*H)`` (the attention memory, zero past each length)
    and the decoder's initial state per layer ``init_c_k``, ``init_h_k`` ``(B, H)`` (the bridge included). The
    decoder's search stays in lstmkit."""
    m = task.model
    g = _Graph()
    y, finals, _ = _encoder(g, m, [], lstm=m.encoder, embedding=m.src_embedding)
    g.op("Transpose", [y], perm=[1, 0, 2], name="memory")
    outputs = [("memory", ["B", "S", m.directions * m.units])]
    for k, (y_h, y_c) in enumerate(finals):
        for name, state, bridge in (("c", y_c, m.bridge_c), ("h", y_h, m.bridge_h)):
            both = g.op("Reshape", [g.op("Transpose", [state], perm=[1, 0, 2]),
                                    g.const(f"shape_{name}{k}", np.array([0, -1], np.int64))])      # (B, D*H)
            g.op("Tanh", [_linear(g, both, bridge, f"bridge_{name}{k}")], name=f"init_{name}_{k}")
            outputs.append((f"init_{name}_{k}", ["B", m.units]))
    return _model(g, task, [name for name, _ in outputs], outputs)


def _model(g: _Graph, task, outputs, shapes):
    onnx = g.onnx
    from onnx import TensorProto, helper

    inputs = [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", "T"]),
              helper.make_tensor_value_info("lengths", TensorProto.INT64, ["B"])]
    if task.name != "seq2seq":
        inputs += [helper.make_tensor_value_info(name, TensorProto.INT64, ["B", "T"])
                   for name, _ in feature_inputs(task.model)]
    if getattr(task.model, "lexicon", None) is not None:
        inputs.append(helper.make_tensor_value_info("lexicon", TensorProto.INT64, ["B", "T4W"]))
    outs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in shapes]
    graph = helper.make_graph(g.nodes, f"lstmkit_{task.name}", inputs, outs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lstmkit")
    model.ir_version = 8
    helper.set_model_props(model, {"lstmkit_task": task.name, "outputs": ",".join(outputs)})
    onnx.checker.check_model(model)
    return model


def export_onnx(task, path) -> None:
    """Write ``task``'s model as ONNX to ``path`` (atomically)."""
    from ..io import atomic_write_bytes

    from ..tasks import task_specs

    specs = task_specs()
    build = specs[task.name].onnx_builder if task.name in specs else None
    if build is None:
        covered = ", ".join(name for name, spec in specs.items() if spec.onnx is not None)
        raise ValueError(f"ONNX export covers {covered} runs; this is a {task.name!r} run")
    atomic_write_bytes(path, build(task).SerializeToString())


class OnnxRunner:
    """Runs an exported model on onnxruntime with the PyTorch model's call signature:
    ``runner(ids, lengths, bigrams=None, **features) -> logits (B, K) or emissions (B, T, K)`` as a torch
    tensor (``features``: a tagger's first, last, wordpos, wordtag, lexicon, as its batches name them)."""

    def __init__(self, path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError("--backend onnx needs onnxruntime: pip install onnxruntime "
                              "(or lstmkit[interop])") from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise ValueError(f"{path}: not a loadable ONNX model ({str(exc).splitlines()[0][:200]})") from None
        self.input_names = [i.name for i in self.session.get_inputs()]      # the graph's order
        self.output = self.session.get_outputs()[0].name

    @property
    def inputs(self) -> set:
        """The graph's input names."""
        return set(self.input_names)

    def __call__(self, ids, lengths, bigrams=None, **features) -> torch.Tensor:
        feed = {"ids": ids.cpu().numpy().astype(np.int64), "lengths": lengths.cpu().numpy().astype(np.int64)}
        features["bigrams"] = bigrams
        for name in self.input_names[2:]:
            if features.get(name) is None:
                raise ValueError(f"the ONNX model needs its {name!r} input")
            feed[name] = features[name].cpu().numpy().astype(np.int64)
        return torch.from_numpy(self.session.run([self.output], feed)[0])
