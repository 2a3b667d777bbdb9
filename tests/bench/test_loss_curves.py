"""bench.loss_curves: the curves come from the log as core.train writes it, phases are found, and the plot
is written; a bad --run is refused with exit 2."""
import json

import numpy as np

from bench import loss_curves


def _log(run, lines):
    run.mkdir()
    (run / "log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_curves_smooth_and_plot(tmp_path):
    lines = [{"step": s, "phase": "independent" if s <= 20 else "joint", "time": 0.1, "ent0": 0.1 - s / 1000}
             for s in range(5, 45, 5)] + [{"step": 40, "event": "done"}]
    _log(tmp_path / "a", lines)
    steps, values, changes = loss_curves.curves(tmp_path / "a", "ent0")
    assert steps.tolist() == list(range(5, 45, 5)) and changes == [25]
    assert np.allclose(values, 0.1 - steps / 1000)
    assert np.allclose(loss_curves.smooth(np.array([1.0, 3.0, 5.0, 7.0]), 2), [1.0, 2.0, 4.0, 6.0])
    out = tmp_path / "p.png"
    assert loss_curves.main(["--run", f"a={tmp_path / 'a'}", "--key", "ent0", "--chance", "0.0833",
                             "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert loss_curves.main(["--run", str(tmp_path / "a"), "--key", "ent0", "--out", str(out)]) == 2  # no label
    assert loss_curves.main(["--run", f"a={tmp_path / 'a'}", "--key", "ent9", "--out", str(out)]) == 2
