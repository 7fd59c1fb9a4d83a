"""ONNX export: onnxruntime agrees with PyTorch to 1e-5 at batch 1, mixed lengths and sequences longer than any
seen in training, for every pooling, uni- and bidirectional, 1 and 2 layers; padding never changes a real
position's output; taggers decode the same tags; the CLI's export and --backend onnx."""
import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from lstmkit.cli import main  # noqa: E402
from lstmkit.data import TextDataset  # noqa: E402
from lstmkit.data.tagged import TaggedDataset  # noqa: E402
from lstmkit.export.onnx import OnnxRunner, export_onnx  # noqa: E402
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask  # noqa: E402
from lstmkit.tasks.tag import TagConfig, TagTask  # noqa: E402
from lstmkit.text import pad_sequences  # noqa: E402

TEXTS = ["这个真好", "那个太差了吧", "好", "还行吧，一般般"]


def _batch(rng, vocab, B, T_max, bigram_vocab):
    lengths = rng.integers(1, T_max + 1, size=B)
    lengths[0] = T_max
    ids = [list(rng.integers(2, len(vocab), size=n)) for n in lengths]
    padded, lens = pad_sequences(ids)
    bigrams = None
    if bigram_vocab is not None:
        bigrams = torch.from_numpy(pad_sequences([list(rng.integers(0, len(bigram_vocab), size=n))
                                                  for n in lengths])[0])
    return torch.from_numpy(padded), torch.from_numpy(lens), bigrams


@pytest.mark.parametrize("pooling,bidirectional,layers,bigrams", [
    ("max", True, 1, True), ("mean", False, 2, False), ("last", True, 2, False), ("max+mean", False, 1, True)])
def test_classifier_parity_on_three_shapes(tmp_path, pooling, bidirectional, layers, bigrams):
    torch.manual_seed(0)
    config = ClassifyConfig(embedding_dim=8, units=12, layers=layers, bidirectional=bidirectional, pooling=pooling,
                            bigrams=bigrams, dropout=0.0)
    task = ClassifyTask.from_data(config, TextDataset(TEXTS, ["1", "0", "1", "0"], "toy"))
    task.model.eval()
    export_onnx(task, tmp_path / "m.onnx")
    runner = OnnxRunner(tmp_path / "m.onnx")
    rng = np.random.default_rng(1)
    for B, T in ((1, 3), (5, 7), (3, 60)):      # batch 1; mixed lengths; far longer than any training text
        ids, lengths, bi = _batch(rng, task.vocab, B, T, task.bigram_vocab)
        with torch.no_grad():
            want = task.model(ids, lengths, bi)
        got = runner(ids, lengths, bi)
        assert got.shape == (B, 2)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5, rtol=0)
        # more padding changes nothing
        pad = torch.zeros(B, 9, dtype=torch.long)
        more = runner(torch.cat([ids, pad], 1), lengths, None if bi is None else torch.cat([bi, pad], 1))
        np.testing.assert_allclose(more.numpy(), got.numpy(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("bidirectional,layers", [(True, 2), (False, 1)])
def test_peepholes_and_forget_bias_export(tmp_path, bidirectional, layers):
    """ONNX's LSTM takes TensorFlow's peepholes as its P input (i, o, f; o's reads the new c, as TF's does)."""
    torch.manual_seed(5)
    config = ClassifyConfig(embedding_dim=6, units=5, layers=layers, bidirectional=bidirectional, bigrams=False,
                            pooling="max+mean", dropout=0.0, cell="lstm",
                            cell_options={"use_peepholes": True, "forget_bias": 0.25})
    task = ClassifyTask.from_data(config, TextDataset(TEXTS, ["1", "0", "1", "0"], "toy"))
    with torch.no_grad():                           # inputs and peepholes big enough to matter
        task.model.embedding.weight[1:].normal_(0.0, 1.0)
        for cell in task.model.lstm.cells:
            for w in (cell.w_f_diag, cell.w_i_diag, cell.w_o_diag):
                w.uniform_(-2.0, 2.0)
    task.model.eval()
    export_onnx(task, tmp_path / "p.onnx")
    runner = OnnxRunner(tmp_path / "p.onnx")
    ids, lengths, _ = _batch(np.random.default_rng(6), task.vocab, 5, 9, None)
    with torch.no_grad():
        want = task.model(ids, lengths)
        out = task.model.lstm(task.model.embedding(ids), lengths)[0]
        for cell in task.model.lstm.cells:
            cell.w_o_diag.zero_()
        without = task.model.lstm(task.model.embedding(ids), lengths)[0]
    assert (out - without).abs().max() > 1e-2               # the peepholes matter ...
    np.testing.assert_allclose(runner(ids, lengths).numpy(), want.numpy(), atol=1e-5, rtol=0)   # ... and agree


def test_tagger_emissions_and_tags(tmp_path):
    torch.manual_seed(1)
    data = TaggedDataset([list("张三在北京"), list("李四去上海玩")],
                         [["B-PER", "E-PER", "O", "B-LOC", "E-LOC"], ["B-PER", "E-PER", "O", "B-LOC", "E-LOC", "O"]],
                         "toy")
    task = TagTask.from_data(TagConfig(scheme="BIOES", embedding_dim=6, units=8, layers=2), data)
    task.model.eval()
    export_onnx(task, tmp_path / "t.onnx")
    runner = OnnxRunner(tmp_path / "t.onnx")
    rng = np.random.default_rng(2)
    ids, lengths, bi = _batch(rng, task.vocab, 4, 11, task.bigram_vocab)
    with torch.no_grad():
        want = task.model(ids, lengths, bi)
    got = runner(ids, lengths, bi)
    valid = (torch.arange(11) < lengths.unsqueeze(1))
    np.testing.assert_allclose(got[valid].numpy(), want[valid].numpy(), atol=1e-5, rtol=0)
    texts = ["张三去上海", "北京", "李四在北京玩了很久很久很久"]
    plain = task.predict_records(texts)
    task.runner = runner
    assert task.predict_records(texts) == plain


@pytest.mark.parametrize("kind,features", [("entities", "jieba-pos"), ("tags", "jieba")])
def test_tagger_with_word_and_character_features(tmp_path, kind, features):
    """Every feature embedding a tagger adds (bigrams, first/last characters of words, jieba's word places and
    parts of speech) becomes a graph input: same emissions, same tags on raw text."""
    torch.manual_seed(3)
    if kind == "entities":
        data = TaggedDataset([list("张三在北京"), list("李四去上海玩")],
                             [["B-PER", "E-PER", "O", "B-LOC", "E-LOC"],
                              ["B-PER", "E-PER", "O", "B-LOC", "E-LOC", "O"]], "toy")
        config = TagConfig(scheme="BIOES", embedding_dim=6, units=8, word_features=features)
    else:
        data = TaggedDataset([["我们", "去", "北京"], ["他", "喜欢", "上海"]], [["r", "v", "ns"], ["r", "v", "ns"]],
                             "toy")
        config = TagConfig(kind="tags", tokenizer={"name": "jieba"}, embedding_dim=6, units=8, char_features=True,
                           word_features=features)
    task = TagTask.from_data(config, data)
    task.model.eval()
    export_onnx(task, tmp_path / "t.onnx")
    runner = OnnxRunner(tmp_path / "t.onnx")
    assert runner.inputs >= {"ids", "lengths", "bigrams", "wordpos"}
    texts = ["张三去上海玩", "北京", "李四在北京玩了很久很久很久"]
    enc = task.encode(TaggedDataset([task.tokenizer(t) for t in texts], None, "x"))
    batch = next(iter(task.batches(enc, 8)))
    features = {k: batch.get(k) for k in ("first", "last", "wordpos", "wordtag")}
    with torch.no_grad():
        want = task.model(batch["ids"], batch["lengths"], batch.get("bigrams"), **features)
    got = runner(batch["ids"], batch["lengths"], batch.get("bigrams"), **features)
    valid = torch.arange(want.shape[1]) < batch["lengths"].unsqueeze(1)
    np.testing.assert_allclose(got[valid].numpy(), want[valid].numpy(), atol=1e-5, rtol=0)
    plain = task.predict_records(texts)
    task.runner = runner
    assert task.predict_records(texts) == plain
    with pytest.raises(ValueError, match=f"needs its {runner.input_names[3]!r} input"):
        runner(batch["ids"], batch["lengths"], batch.get("bigrams"))


def test_cli_export_and_onnx_backend(tmp_path, capsys):
    rows = ["label\ttext"] + [f"1\t真好{k}" for k in range(20)] + [f"0\t太差{k}" for k in range(20)]
    (tmp_path / "t.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "classify", "--train", str(tmp_path / "t.tsv"), "--out", str(run), "--epochs", "1",
                 "--units", "4", "--embedding-dim", "4", "--quiet"]) == 0
    assert main(["predict", str(run), "--backend", "onnx", "好"]) == 2
    assert "model.onnx not found" in capsys.readouterr().err
    assert main(["export", str(run)]) == 0 and (run / "model.onnx").is_file()
    capsys.readouterr()
    assert main(["predict", str(run), "--json", "真好", "太差了", "好"]) == 0
    torch_out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert main(["predict", str(run), "--json", "--backend", "onnx", "真好", "太差了", "好"]) == 0
    onnx_out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    for a, b in zip(torch_out, onnx_out):
        assert a["label"] == b["label"] and abs(a["probability"] - b["probability"]) < 1e-5


@pytest.mark.parametrize("options,flag", [({"num_proj": 3}, "--num-proj"),
                                          ({"num_proj": 3, "proj_clip": 1.0}, "--num-proj"),
                                          ({"cell_clip": 3.0, "use_peepholes": True}, "--cell-clip")])
def test_what_cannot_be_exported_says_so(tmp_path, options, flag):
    config = ClassifyConfig(embedding_dim=4, units=4, cell="lstm", cell_options=options, bigrams=False)
    task = ClassifyTask.from_data(config, TextDataset(TEXTS, ["1", "0", "1", "0"], "toy"))
    with pytest.raises(ValueError, match=f"no ONNX form for .*\\({flag}\\)") as err:
        export_onnx(task, tmp_path / "x.onnx")
    assert "\n" not in str(err.value) and not (tmp_path / "x.onnx").exists()
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        OnnxRunner(tmp_path / "junk.onnx")


def test_seq2seq_encoder_parity(tmp_path):
    import onnxruntime as ort

    from lstmkit.data.pairs import PairDataset
    from lstmkit.tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask

    torch.manual_seed(4)
    task = Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=6, units=8, layers=2),
                                 PairDataset(["cat", "dog", "tacocat"], ["K AE T", "D AO G", "T AE K"], "toy"))
    task.model.eval()
    export_onnx(task, tmp_path / "enc.onnx")
    sess = ort.InferenceSession(str(tmp_path / "enc.onnx"), providers=["CPUExecutionProvider"])
    ids, lengths = pad_sequences([[2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 2, 3], [4, 5], [6]])
    out = dict(zip([o.name for o in sess.get_outputs()],
                   sess.run(None, {"ids": ids.astype(np.int64), "lengths": lengths.astype(np.int64)})))
    with torch.no_grad():
        enc = task.model.encode(torch.from_numpy(ids), torch.from_numpy(lengths))
    np.testing.assert_allclose(out["memory"], enc["memory"].numpy(), atol=1e-5, rtol=0)
    for k, st in enumerate(enc["state"]):
        np.testing.assert_allclose(out[f"init_c_{k}"], st.c.numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(out[f"init_h_{k}"], st.h.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("proj", [0, 3])
def test_tagger_with_a_lexicon(tmp_path, proj):
    """The SoftLexicon input (B, T * 4 * W) and its pooling (and projection) export: same emissions at every real
    step, with more padding too, and the same tags on raw text through --backend onnx."""
    torch.manual_seed(6)
    (tmp_path / "words.txt").write_text("张三\n北京\n天安门\n天安\n安门\n上海\n在\n", encoding="utf-8")
    data = TaggedDataset([list("张三在北京"), list("李四去上海玩")],
                         [["B-PER", "E-PER", "O", "B-LOC", "E-LOC"], ["B-PER", "E-PER", "O", "B-LOC", "E-LOC", "O"]],
                         "toy")
    task = TagTask.from_data(TagConfig(scheme="BIOES", embedding_dim=6, units=8, lexicon=str(tmp_path / "words.txt"),
                                       lexicon_dim=5, lexicon_set_size=2, lexicon_proj=proj), data)
    assert (task.model.lexicon_proj is not None) == bool(proj)
    task.model.eval()
    export_onnx(task, tmp_path / "t.onnx")
    runner = OnnxRunner(tmp_path / "t.onnx")
    assert runner.input_names == ["ids", "lengths", "bigrams", "lexicon"]
    texts = ["张三去天安门看北京", "上海", "李四在北京玩了很久很久很久，在天安门在上海"]
    enc = task.encode(TaggedDataset([task.tokenizer(t) for t in texts], None, "x"))
    batch = next(iter(task.batches(enc, 8)))
    assert batch["lexicon"].shape == (3, batch["ids"].shape[1] * 4 * 2) and batch["lexicon"].max() > 1
    with torch.no_grad():
        want = task.model(batch["ids"], batch["lengths"], batch["bigrams"], lexicon=batch["lexicon"])
    got = runner(batch["ids"], batch["lengths"], batch["bigrams"], lexicon=batch["lexicon"])
    valid = torch.arange(want.shape[1]) < batch["lengths"].unsqueeze(1)
    np.testing.assert_allclose(got[valid].numpy(), want[valid].numpy(), atol=1e-5, rtol=0)
    pad = torch.zeros(3, 4, dtype=torch.long)                    # 4 more steps: 4 * 4 * 2 more lexicon ids
    more = runner(torch.cat([batch["ids"], pad], 1), batch["lengths"], torch.cat([batch["bigrams"], pad], 1),
                  lexicon=torch.cat([batch["lexicon"], torch.zeros(3, 32, dtype=torch.long)], 1))
    np.testing.assert_allclose(more[:, :want.shape[1]][valid].numpy(), got[valid].numpy(), atol=1e-6, rtol=0)
    plain = task.predict_records(texts)
    task.runner = runner
    assert task.predict_records(texts) == plain
