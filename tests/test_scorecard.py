"""Which experiments get a transition row in the scorecard."""

from types import SimpleNamespace

from glassynets.scorecard import sweeps_alpha


def cells(*alphas: float) -> list:
    return [SimpleNamespace(alpha=a) for a in alphas]


def test_a_sweep_through_n_or_width_has_a_transition():
    assert sweeps_alpha(cells(0.04, 0.37, 3.7, 7.4))
    assert sweeps_alpha(cells(0.095, 0.16, 0.236))  # mnist_alpha: widths 7 … 17 at N = 60,000


def test_architectures_at_one_n_do_not_sweep_alpha():
    assert not sweeps_alpha(cells(0.399, 0.402, 0.405))  # mnist_arch: P = 3985, 4015, 4045
    assert not sweeps_alpha(cells(0.1, 10.0))  # two values cannot locate a crossing
