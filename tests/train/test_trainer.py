import math

import pytest
import torch

from lstmkit.train.metrics import classification_report
from lstmkit.train.task import Task
from lstmkit.train.trainer import TrainConfig, TrainingError, WeightAverage, fit, lr_factor, make_optimizer


class _Task(Task):
    """A linear model on fixed data: enough to drive the trainer."""

    name, primary_metric, config_class = "toy", "accuracy", dict

    @classmethod
    def from_data(cls, config, train):
        return cls()

    @classmethod
    def from_saved(cls, config, vocabs):
        return cls()

    def encode(self, data):
        return data

    def predict_records(self, inputs):
        return []

    def __init__(self, nan_at=None):
        torch.manual_seed(0)
        self.model = torch.nn.Linear(2, 2)
        self.x = torch.randn(64, 2)
        self.y = (self.x[:, 0] > 0).long()
        self.calls, self.nan_at = 0, nan_at

    def batches(self, data, batch_size, shuffle=False, seed=0):
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(64, generator=g) if shuffle else torch.arange(64)
        return [{"index": order[k:k + batch_size].tolist()} for k in range(0, 64, batch_size)]

    def step(self, batch):
        self.calls += 1
        idx, device = batch["index"], self.model.weight.device  # the trainer moved the model (auto: CUDA if any)
        loss = torch.nn.functional.cross_entropy(self.model(self.x[idx].to(device)), self.y[idx].to(device))
        return loss * float("nan") if self.calls == self.nan_at else loss

    def evaluate(self, data):
        with torch.no_grad():
            pred = self.model(self.x.to(self.model.weight.device)).argmax(1).cpu()
        return classification_report(self.y, pred, ["0", "1"])


def test_learns_and_keeps_the_best_epoch_and_is_deterministic():
    records = []
    a = _Task()
    best = fit(a, None, None, TrainConfig(epochs=5, batch_size=8, lr=0.05, progress=False),
               on_epoch=records.append)
    assert best["dev"]["accuracy"] >= 0.9 and len(records) >= 1
    assert best["dev"]["accuracy"] == max(r["dev"]["accuracy"] for r in records)
    assert a.evaluate(None)["accuracy"] == best["dev"]["accuracy"], "the model ends on the best epoch's weights"
    b = _Task()
    fit(b, None, None, TrainConfig(epochs=5, batch_size=8, lr=0.05, progress=False))
    assert torch.equal(a.model.weight, b.model.weight)


def test_nan_loss_stops_with_a_clear_message():
    with pytest.raises(TrainingError, match="the loss became nan at epoch 1.*lower --lr"):
        fit(_Task(nan_at=3), None, None, TrainConfig(epochs=2, batch_size=8, progress=False))


def test_learning_rate_schedule():
    assert lr_factor(0, 100, 0.1, "linear") == pytest.approx(0.1)
    assert lr_factor(9, 100, 0.1, "linear") == pytest.approx(1.0)
    assert lr_factor(55, 100, 0.1, "linear") == pytest.approx(0.5)
    assert lr_factor(55, 100, 0.1, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(99, 100, 0.0, "constant") == 1.0


def test_metrics_match_hand_counts():
    m = classification_report([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3) and m["per_class"]["b"]["recall"] == 1.0
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_device_names_are_checked():
    from lstmkit.train.trainer import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be auto, cpu or cuda"):
        TrainConfig(device="tpu9").check()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="this machine has no CUDA GPU"):
            TrainConfig(device="cuda").check()


def test_ties_on_the_dev_metric_go_to_the_lower_loss():
    from lstmkit.train.trainer import _better

    assert _better({"accuracy": 0.9, "loss": 0.5}, {"accuracy": 0.8, "loss": 0.1}, "accuracy")
    assert _better({"accuracy": 1.0, "loss": 0.1}, {"accuracy": 1.0, "loss": 0.4}, "accuracy")
    assert not _better({"accuracy": 1.0, "loss": 0.4}, {"accuracy": 1.0, "loss": 0.1}, "accuracy")
    assert not _better({"accuracy": 1.0}, {"accuracy": 1.0}, "accuracy")
    assert _better({"perplexity": 9.0}, {"perplexity": 12.0}, "perplexity", greater=False)
    assert not _better({"perplexity": 12.0}, {"perplexity": 9.0}, "perplexity", greater=False)


def test_fused_adamw_matches_the_plain_one_and_decays_matrices_only():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Linear(8, 3))
    twin = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Linear(8, 3))
    twin.load_state_dict(model.state_dict())
    start = model[0].weight.detach().clone()
    config = TrainConfig(lr=0.01, weight_decay=0.1)
    fused, plain = make_optimizer(model.parameters(), config), make_optimizer(twin.parameters(), config, fused=False)
    assert fused.defaults["fused"] and not plain.defaults["fused"]
    assert [g["weight_decay"] for g in fused.param_groups] == [0.1, 0.0]
    assert [p.dim() for p in fused.param_groups[0]["params"]] == [2, 2]     # embedding, linear weight
    ids, y = torch.randint(0, 25, (16,)), torch.randint(0, 3, (16,))       # rows 25..49 are never looked up
    for _ in range(5):
        for m, opt in ((model, fused), (twin, plain)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(ids), y).backward()
            opt.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert (model[0].weight[:25] - start[:25]).abs().max() > 0.01           # trained rows moved
    # a row with no gradient only decays (AdamW's decoupled weight decay): w * (1 - lr * wd) per step
    torch.testing.assert_close(model[0].weight[25:], start[25:] * (1 - 0.01 * 0.1) ** 5)


def test_weight_average_follows_tensorflows_moving_average_and_swaps_back():
    p = torch.nn.Parameter(torch.tensor([0.0, 10.0]))
    ema = WeightAverage([p], decay=0.9)
    want = p.detach().clone()
    for n, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0] + [6.0] * 40, 1):
        with torch.no_grad():
            p.fill_(value)
        ema.update()
        d = min(0.9, (1 + n) / (10 + n))  # TensorFlow's ExponentialMovingAverage with num_updates
        want = d * want + (1 - d) * value
    assert torch.allclose(ema.average[0], want, atol=1e-6)
    assert 5.5 < ema.average[0][0] < 6.0, "late updates dominate"
    with ema.swapped():
        assert torch.equal(p.detach(), ema.average[0])
    assert torch.equal(p.detach(), torch.full((2,), 6.0)), "the training weights come back"


def test_ema_scores_keeps_and_saves_the_averaged_weights():
    saved, records = [], []
    task = _Task()
    best = fit(task, None, None, TrainConfig(epochs=3, batch_size=8, lr=0.05, ema=0.9, patience=0, progress=False),
               on_epoch=records.append, on_best=lambda r: saved.append(task.model.weight.detach().clone()))
    plain = _Task()
    fit(plain, None, None, TrainConfig(epochs=3, batch_size=8, lr=0.05, patience=0, progress=False))
    assert not torch.allclose(task.model.weight, plain.model.weight), "the average differs from the last weights"
    assert torch.equal(saved[-1], task.model.weight), "on_best sees (and a run saves) the weights it keeps"
    assert task.evaluate(None)["accuracy"] == best["dev"]["accuracy"], "the kept weights are the ones scored"
    for bad in (1.0, -0.1, True, "0.9"):
        with pytest.raises(ValueError, match="ema must be a decay in"):
            TrainConfig(ema=bad).check()
