"""Sample-ratio mismatch against SciPy's chi-square."""

import pytest
from scipy import stats

from calendar_app.analysis.srm import SRM_THRESHOLD, sample_ratio_mismatch


def test_matches_hand_computed_pearson_chi_square():
    observed = {"a": 50_000, "b": 48_900}
    result = sample_ratio_mismatch(observed, {"a": 1, "b": 1})
    expected = 98_900 / 2
    chi2 = sum((o - expected) ** 2 / expected for o in observed.values())
    assert result.statistic == pytest.approx(chi2, rel=1e-12)
    assert result.p_value == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-9)
    assert result.flagged and result.p_value < SRM_THRESHOLD


def test_unequal_weights_three_arms():
    result = sample_ratio_mismatch({"a": 5020, "b": 2480, "c": 2500}, {"a": 50, "b": 25, "c": 25})
    ref = stats.chisquare([5020, 2480, 2500], [5000, 2500, 2500])
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-12) and result.df == 2
    assert not result.flagged


def test_published_example():
    # Kohavi et al., Trustworthy Online Controlled Experiments, ch. 21: 821,588 vs 815,482
    # visitors on a planned 50/50 split gives p ~ 1.8e-6 -> SRM.
    result = sample_ratio_mismatch(
        {"control": 821_588, "treatment": 815_482}, {"control": 1, "treatment": 1}
    )
    assert result.p_value == pytest.approx(1.8e-6, rel=0.05)
    assert result.flagged


def test_edge_cases():
    assert not sample_ratio_mismatch({"a": 0, "b": 0}, {"a": 1, "b": 1}).flagged
    assert sample_ratio_mismatch({"a": 10, "b": 3}, {"a": 1, "b": 0}).flagged
    with pytest.raises(ValueError, match="no weight"):
        sample_ratio_mismatch({"a": 1, "b": 1}, {"a": 1})
    with pytest.raises(ValueError, match="not all be 0"):
        sample_ratio_mismatch({"a": 1, "b": 1}, {"a": 0, "b": 0})
