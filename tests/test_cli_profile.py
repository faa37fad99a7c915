"""`theon profile MODEL`: the per-op profile of a built-in model's step, from the shell."""
import json

import pytest

import theon.cli
import theon_cli


def run_main(capsys, *args):
    code = theon_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_profile_prints_the_table_and_writes_a_chrome_trace(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(theon.cli, "load_dataset", lambda name: pytest.fail("a profile reads no data"))
    trace = tmp_path / "mlp.json"
    code, out, err = run_main(capsys, "profile", "mlp", "--dataset", "digits", "--batch-size", 8,
                              "--repeat", 2, "--rows", 5, "--trace", trace, "--device", "cpu")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "mlp train step, batch 8 of digits-shaped inputs (1, 8, 8)"
    assert lines[1].startswith("profile of train_step on cpu: 2 run(s)")
    assert "predicted peak" in lines[2] and "share" in lines[3]
    assert len([l for l in lines if "%" in l.split()[0]]) == 5 and "more row(s)" in out
    assert "theon_cli.py:" in out and f"Chrome trace written to {trace}" in out
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e["ph"] == "X" and e["name"] == "linear" for e in events)


def test_profile_of_a_prediction_nests_the_lstm_loop(capsys, monkeypatch):
    monkeypatch.setattr(theon.config, "FUSED_RNN", False)  # the LSTM as a scan, not one fused op
    code, out, err = run_main(capsys, "profile", "lstm", "--dataset", "digits", "--step", "predict",
                              "--batch-size", 4, "--repeat", 1, "--rows", 50, "--device", "cpu")
    assert code == 0, err
    assert "predict_step" in out and " scan(" in out and "└ sigmoid" in out


@pytest.mark.parametrize("argv, message", [
    (["profile", "resnet"], "argument model: invalid choice: 'resnet'"),
    (["profile", "mlp", "--repeat", "0"], "--repeat: expected a whole number >= 1, got 0"),
    (["profile", "mlp", "--step", "eval"], "argument --step: invalid choice: 'eval'"),
    (["profile", "mlp", "--trace", "no/such/folder/t.json"], "--trace no/such/folder/t.json: no such folder"),
])
def test_bad_profile_command_lines_are_one_line(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(theon.cli, "run", lambda args: pytest.fail("started work on a bad command line"))
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1, err
