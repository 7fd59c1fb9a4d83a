"""CellConfig and every task's cell: the options reach every cell, heads read the cells' output size P, a run
folder keeps them and a reloaded run predicts the same; errors name the option."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from lstmkit.data import TextDataset
from lstmkit.data.pairs import PairDataset
from lstmkit.data.series import SeriesDataset
from lstmkit.data.tagged import TaggedDataset
from lstmkit.nn import LSTM, CellConfig
from lstmkit.nn.seq2seq import Seq2Seq
from lstmkit.tasks import load_run
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
from lstmkit.tasks.lm import LMConfig, LMTask
from lstmkit.tasks.regress import RegressConfig, RegressTask
from lstmkit.tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask
from lstmkit.tasks.tag import TagConfig, TagTask
from lstmkit.train.checkpoint import save_run

OPTIONS = {"forget_bias": 0.5, "use_peepholes": True, "cell_clip": 3.0, "num_proj": 4}


# -- CellConfig --------------------------------------------------------------------------------------------------
def test_options_round_trip_and_build_the_cells():
    cc = CellConfig.from_dict({"cell": "lstm", **OPTIONS})
    assert cc.options() == OPTIONS and CellConfig.from_dict({"cell": "lstm", **cc.options()}) == cc
    assert CellConfig().options() == {} and CellConfig().to_options() == {"cell": "basic"}
    lstm = LSTM(6, 5, num_layers=2, bidirectional=True, **cc.to_options())
    for cell in lstm.cells:
        assert (cell.num_proj, cell.use_peepholes, cell.cell_clip, cell.forget_bias) == (4, True, 3.0, 0.5)
        assert cell.projection_kernel.shape == (5, 4) and cell.w_o_diag.shape == (5,)
    assert lstm.output_size == 2 * 4 and lstm.cell(1, 0).input_size == 2 * 4
    basic = LSTM(6, 5, **CellConfig(forget_bias=0.0).to_options())
    assert type(basic.cell(0)).__name__ == "BasicLSTMCell" and basic.cell(0).forget_bias == 0.0


def test_a_config_is_a_value():
    cc = CellConfig(cell="lstm")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cc.num_proj = 3
    assert dataclasses.replace(cc, num_proj=3).num_proj == 3 and cc.num_proj is None


@pytest.mark.parametrize("data,error,message", [
    ({"cell": "basic", "num_proj": 4}, ValueError, "num_proj is an option of cell 'lstm'"),
    ({"use_peepholes": True}, ValueError, "use_peepholes is an option of cell 'lstm'"),
    ({"cell": "basic", "cell_clip": 1.0}, ValueError, "cell_clip is an option of cell 'lstm'"),
    ({"cell": "lstm", "proj_clip": 1.0}, ValueError, "proj_clip needs num_proj"),
    ({"cell": "lstm", "cell_clip": 0}, ValueError, "cell_clip must be a positive number or None, got 0"),
    ({"cell": "lstm", "num_proj": 2.5}, ValueError, "num_proj must be a positive int"),
    ({"cell": "lstm", "num_proj": True}, ValueError, "num_proj must be a positive int"),
    ({"cell": "lstm", "use_peepholes": "yes"}, TypeError, "use_peepholes must be true or false, got 'yes'"),
    ({"forget_bias": "1"}, TypeError, "forget_bias must be a number, got '1'"),
    ({"forget_bias": float("nan")}, ValueError, "forget_bias must be a finite number"),
    ({"cell": "gru"}, ValueError, "cell must be one of ['basic', 'layernorm', 'lstm'], got 'gru'"),
    ({"cell": "lstm", "peepholes": True}, ValueError, "unknown cell option 'peepholes'"),
])
def test_errors_name_the_option(data, error, message):
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        CellConfig.from_dict(data)


def test_a_task_config_checks_its_cell():
    with pytest.raises(ValueError, match="num_proj is an option of cell 'lstm'"):
        ClassifyConfig(cell_options={"num_proj": 3}).check()
    with pytest.raises(ValueError, match="give the cell in the field cell"):
        LMConfig(cell_options={"cell": "lstm"}).check()
    with pytest.raises(TypeError, match="cell_options must be a dict"):
        TagConfig(cell_options=[("num_proj", 3)]).check()


# -- every task ---------------------------------------------------------------------------------------------------
def _classify():
    task = ClassifyTask.from_data(ClassifyConfig(embedding_dim=6, units=5, bigrams=False, cell="lstm",
                                                 cell_options=OPTIONS),
                                  TextDataset(["真好", "太差了", "好", "差"], ["1", "0", "1", "0"], "toy"))
    return task, task.model.lstm, lambda t: t.predict_proba(t.encode(TextDataset(["真好啊", "差"], None, "x")))


def _tag():
    data = TaggedDataset([list("张三在北京"), list("李四去上海")], [["B-PER", "E-PER", "O", "B-LOC", "E-LOC"]] * 2,
                         "toy")
    task = TagTask.from_data(TagConfig(scheme="BIOES", embedding_dim=6, units=5, bigrams=False, decoder="softmax",
                                       cell="lstm", cell_options=OPTIONS), data)

    def emissions(t):
        batch = next(iter(t.batches(t.encode(data), 8)))
        with torch.no_grad():
            return t.model.eval()(batch["ids"], batch["lengths"]).numpy()
    return task, task.model.lstm, emissions


def _lm():
    texts = TextDataset(["春眠不觉晓", "处处闻啼鸟"], None, "toy")
    task = LMTask.from_data(LMConfig(embedding_dim=6, units=5, bptt=4, cell="lstm", cell_options=OPTIONS), texts)
    return task, task.model.lstm, lambda t: np.array(t.evaluate(t.encode(texts))["loss"])


def _seq2seq():
    pairs = PairDataset(["cat", "dog", "tacocat"], ["K AE T", "D AO G", "T AE K"], "toy")
    task = Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=6, units=5, cell="lstm", cell_options=OPTIONS), pairs)
    return task, task.model.encoder, lambda t: np.array(t.loss(t.encode(pairs)))


def _regress():
    values = np.sin(np.arange(40, dtype=np.float64) / 3.0)[:, None]
    data = SeriesDataset(values, ["y"], "toy")
    task = RegressTask.from_data(RegressConfig(columns=["y"], window=6, units=5, cell="lstm", cell_options=OPTIONS),
                                 data)
    return task, task.model.lstm, lambda t: t.predict(t.encode(data))


@pytest.mark.parametrize("build", [_classify, _tag, _lm, _seq2seq, _regress],
                         ids=["classify", "tag", "lm", "seq2seq", "regress"])
def test_every_task_builds_saves_and_reloads_its_cells(tmp_path, build):
    torch.manual_seed(0)
    task, lstm, predict = build()
    for cell in lstm.cells:
        assert type(cell).__name__ == "LSTMCell"
        assert (cell.num_proj, cell.use_peepholes, cell.cell_clip, cell.forget_bias) == (4, True, 3.0, 0.5)
    assert lstm.output_size == lstm.num_directions * 4
    save_run(tmp_path / "run", task)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert saved["cell"] == "lstm" and saved["cell_options"] == OPTIONS
    again = load_run(tmp_path / "run")
    assert CellConfig.of(again.config) == CellConfig(cell="lstm", **OPTIONS)
    np.testing.assert_allclose(predict(again), predict(task), atol=1e-6, rtol=0)


# -- seq2seq with a projection: the decoder's h and the attentional output are P wide --------------------------
@pytest.mark.parametrize("input_feeding,attention", [(True, "general"), (False, "additive"), (False, "none")])
def test_seq2seq_with_projected_cells_decodes_as_it_is_scored(input_feeding, attention):
    torch.manual_seed(1)
    m = Seq2Seq(7, 6, embedding_dim=5, units=8, bidirectional=True, attention=attention,
                input_feeding=input_feeding, dropout=0.0, bos_id=2, eos_id=3, cell="lstm", num_proj=3,
                use_peepholes=True, cell_clip=2.0).double().eval()
    assert m.output_size == 3 and m.out.in_features == 3 and m.bridge_h.in_features == 2 * 3
    assert m.decoder.cell(0).input_size == 5 + (3 if input_feeding else 0)
    src, n = torch.tensor([[4, 5, 6, 4], [5, 6, 0, 0]]), torch.tensor([4, 2])
    enc = m.encode(src, n)
    assert enc["memory"].shape == (2, 4, 6) and enc["state"][0].h.shape == (2, 3) and enc["state"][0].c.shape == (2, 8)
    hyps = m.greedy(src, n, max_len=4)
    for b, h in enumerate(hyps):          # greedy's score is the teacher-forced log-probability of its output
        ys = h.tokens + ([3] if h.finished else [])
        with torch.no_grad():
            logp = torch.log_softmax(m(src[b:b + 1, : int(n[b])], n[b:b + 1], torch.tensor([[2] + h.tokens])), 2)[0]
        total = sum(float(logp[t, y]) for t, y in enumerate(ys))
        assert total == pytest.approx(h.log_prob, abs=1e-9)


# -- an LM's cells start a classifier's: the same cell, options and all -----------------------------------------
def test_init_from_an_lm_with_the_same_cell_copies_peepholes_and_projection():
    torch.manual_seed(2)
    texts = ["春眠不觉晓", "花落知多少"]
    lm = LMTask.from_data(LMConfig(embedding_dim=6, units=5, dropout=0.0, bptt=4, cell="lstm",
                                   cell_options=OPTIONS), TextDataset(texts, None, "toy"))

    def classifier(**cell):
        return ClassifyTask.from_data(ClassifyConfig(embedding_dim=6, units=5, bigrams=False, dropout=0.0, **cell),
                                      TextDataset(texts, ["1", "0"], "c"))

    clf = classifier(cell="lstm", cell_options=dict(OPTIONS))
    assert clf.init_from_lms([lm], ["lm"])[1] == "LSTM layer 0 fw: from lm layer 0"
    mine, theirs = clf.model.lstm.cell(0, 0), lm.model.lstm.cell(0)
    for name in ("kernel", "bias", "w_f_diag", "w_i_diag", "w_o_diag", "projection_kernel"):
        torch.testing.assert_close(getattr(mine, name), getattr(theirs, name), atol=0, rtol=0)
    x = torch.randn(2, 3, 6)
    with torch.no_grad():                                    # the forward half is the LM's LSTM: P = 4 wide
        torch.testing.assert_close(clf.model.lstm(x)[0][..., :4], lm.model.lstm(x)[0], atol=1e-6, rtol=0)
    # the cells are compared as CellConfigs: forget_bias 1.0 given or left out is one cell, another is not
    plain = LMTask.from_data(LMConfig(embedding_dim=6, units=5, bptt=4, cell="lstm", cell_options={"num_proj": 4}),
                             TextDataset(texts, None, "toy"))
    same = classifier(cell="lstm", cell_options={"num_proj": 4, "forget_bias": 1.0})
    assert same.init_from_lms([plain], ["lm"])[1] == "LSTM layer 0 fw: from lm layer 0"
    with pytest.raises(ValueError, match=r"cell differs: the classifier has CellConfig\(cell='lstm', forget_bias=1.0"):
        classifier(cell="lstm", cell_options={**OPTIONS, "forget_bias": 1.0}).init_from_lms([lm], ["lm"])
