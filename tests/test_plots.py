"""Figure helpers that every figure goes through."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from glassynets import plots  # noqa: E402


def test_a_log_axis_with_nothing_positive_is_made_linear_and_says_so(tmp_path):
    fig, (data, strip, empty) = plt.subplots(3, 1)
    data.sharex(strip)
    data.plot([1, 10, 100], [1, 2, 3], "o")
    strip.plot([], [])  # an empty residual strip sharing the data's log t_w axis
    empty.plot([1, 10], [np.nan, np.nan])  # t* undefined at every t_w
    for ax in (data, strip, empty):
        ax.set_xscale("log")
        ax.set_yscale("log")
    plots._save(fig, tmp_path / "f.pdf")
    assert data.get_xscale() == strip.get_xscale() == "log"  # its sibling has data
    assert data.get_yscale() == "log" and strip.get_yscale() == "linear"
    assert empty.get_xscale() == empty.get_yscale() == "linear"
    assert any("nothing > 0 to draw" in t.get_text() for t in empty.texts)
    assert not data.texts and (tmp_path / "f.png").exists()
