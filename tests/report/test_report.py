"""``lstmkit report``: a run's history read back, the text summary, and the command's errors and output file."""
import json
import math

import pytest
from report_support import ACCURACY, LM_LOSS

from lstmkit.cli import main
from lstmkit.report import read_history, summary_text


def test_history_reads_the_epochs_and_the_best_one(written):
    h = read_history(written["clf"])
    assert (h.task, h.metric, h.greater) == ("classify", "accuracy", True)
    assert [r["epoch"] for r in h.records] == [1, 2, 3]
    assert h.best["epoch"] == 2                       # the last epoch that improved, not the last epoch
    assert h.series("accuracy") == [(1, ACCURACY[0]), (2, ACCURACY[1]), (3, ACCURACY[2])]
    lm = read_history(written["lm"])
    assert (lm.metric, lm.greater, lm.best["epoch"]) == ("perplexity", False, 3)
    assert read_history(written["tag"]).metric == "f1"          # a property of the tagger's config: its kind


def test_the_primary_metric_follows_the_run_config(written, tmp_path):
    from report_support import write_run

    run = write_run(tmp_path / "pos", "tag", {"kind": "tags"}, [json.loads(
        (written["tag"] / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[0])])
    assert read_history(run).metric == "token_accuracy"


def test_summary_text_lists_every_epoch_and_marks_the_best(written):
    text = summary_text([read_history(written["clf"]), read_history(written["lm"])])
    lines = text.splitlines()
    assert lines[0].endswith("classify run, 3 epoch(s); best epoch 2: dev accuracy 0.7500 (higher is better)")
    rows = [line.split() for line in lines[2:5]]
    assert [float(r[3]) for r in rows] == [round(a, 4) for a in ACCURACY]
    assert rows[1][-1] == "best" and rows[0][-1] != "best" and rows[2][-1] != "best"
    lm = lines[lines.index("") + 1]
    assert f"best epoch 3: dev perplexity {math.exp(LM_LOSS[2]):.4f} (lower is better)" in lm


def test_the_command_prints_the_summary(written, capsys):
    assert main(["report", str(written["clf"])]) == 0
    out = capsys.readouterr().out
    assert out == summary_text([read_history(written["clf"])])


def _error(argv, capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1, err
    return err


def test_bad_input_is_one_line_and_a_non_zero_exit(written, tmp_path, capsys):
    assert "run folder not found" in _error(["report", str(tmp_path / "nothing")], capsys)
    assert "is not a run folder: it has no config.json" in _error(["report", str(tmp_path)], capsys)
    (written["clf"] / "metrics.jsonl").unlink()
    assert "has no metrics.jsonl" in _error(["report", str(written["lm"]), str(written["clf"])], capsys)
    (written["tag"] / "metrics.jsonl").write_text('{"epoch": 1, "dev": {}}\nnot json\n', encoding="utf-8")
    assert "metrics.jsonl:2: not valid JSON" in _error(["report", str(written["tag"])], capsys)
    (written["tag"] / "metrics.jsonl").write_text("\n", encoding="utf-8")
    assert "no epochs recorded yet" in _error(["report", str(written["tag"])], capsys)
    (written["tag"] / "metrics.jsonl").write_text('{"loss": 1}\n', encoding="utf-8")
    assert "expected an epoch's record" in _error(["report", str(written["tag"])], capsys)
    assert "--data" in _error(["report", str(written["lm"]), "--data", str(tmp_path / "none.csv")], capsys)


def test_html_is_written_once_unless_forced(written, tmp_path, capsys):
    page = tmp_path / "report.html"
    assert main(["report", str(written["clf"]), "--html", str(page)]) == 0
    assert capsys.readouterr().err == f"wrote {page}\n"
    first = page.read_text(encoding="utf-8")
    assert first.startswith("<!DOCTYPE html>") and "好评" in first
    assert "exists; add --force" in _error(["report", str(written["lm"]), "--html", str(page)], capsys)
    assert page.read_text(encoding="utf-8") == first
    assert main(["report", str(written["lm"]), "--html", str(page), "--force"]) == 0
    capsys.readouterr()
    assert "perplexity" in page.read_text(encoding="utf-8") and "好评" not in page.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["report.html"]     # no temp file left
    assert "is a folder; give a file path" in _error(["report", str(written["clf"]), "--html", str(tmp_path)],
                                                     capsys)
    target = written["clf"] / "config.json"
    assert "would write over an input" in _error(["report", str(written["clf"]), "--html", str(target),
                                                  "--force"], capsys)
    assert json.loads(target.read_text(encoding="utf-8"))["task"] == "classify"


@pytest.mark.parametrize("bad", ["0", "-1", "x"])
def test_examples_must_be_a_positive_int(written, bad, capsys):
    with pytest.raises(SystemExit):
        main(["report", str(written["clf"]), "--examples", bad])


def test_data_of_another_format_is_an_error_naming_the_run(trained, tmp_path, capsys):
    page = tmp_path / "page.html"
    err = _error(["report", str(trained / "reg"), "--data", str(trained / "pairs.tsv"), "--html", str(page)], capsys)
    assert f"--data {trained / 'pairs.tsv'} does not fit {trained / 'reg'} (a regress run)" in err
    assert "no column 'value'" in err and not page.exists()


def test_a_record_without_numbers_draws_what_there_is(tmp_path):
    from report_support import write_run

    from lstmkit.report.html import render_report_html

    run = write_run(tmp_path / "bare", "classify", {}, [{"epoch": 1, "dev": {"accuracy": 0.5}},
                                                        {"epoch": 2, "train_loss": float("nan"), "dev": {}}])
    page = render_report_html([read_history(run)])
    assert page.count('class="chart"') == 1 and "dev accuracy" in page
    text = summary_text([read_history(run)])          # a diverged loss is shown as it is; a missing value as -
    assert "      2         nan           -                -           -        -" in text
