from __future__ import annotations

import numpy as np
import pytest

from decorr_af.errors import ConfigError, NonFiniteValueError
from decorr_af.workflows.reweighting import (
    LikelihoodRatioReweighter,
    ks_distances,
    reweight,
    weighted_ks,
)


@pytest.mark.slow
def test_reweighting_recovers_shifted_gaussian():
    rng = np.random.default_rng(4242)
    mc = rng.normal(0.0, 1.0, (2000, 2))
    data = np.column_stack([rng.normal(0.4, 1.2, 2000), rng.normal(0.0, 1.0, 2000)])
    rw = LikelihoodRatioReweighter(max_iter=30, max_weight=10.0).fit(mc, data)
    w = rw.train_weights_
    assert w.shape == (2000,)
    assert np.isclose(w.sum(), 2000.0)
    assert w.max() / w.mean() <= 10.0 * 10.0 + 1e-6
    before = weighted_ks(mc[:, 0], data[:, 0])
    after = weighted_ks(mc[:, 0], data[:, 0], wa=w)
    assert after < 0.5 * before
    # new events get weights too, normalised to their own sample weights
    new = rng.normal(0.0, 1.0, (500, 2))
    wn = rw.weights(new, sample_weight=np.full(500, 2.0))
    assert np.isclose(wn.sum(), 1000.0)
    assert np.all(wn > 0)


@pytest.mark.slow
def test_reweighting_on_toy_shower_shapes(sample_dir):
    from decorr_af.data.schema import SHOWER_SHAPES
    from decorr_af.workflows._data import load_photons

    mc = load_photons(str(sample_dir / "photons_mc" / "*.root"))
    data = load_photons(str(sample_dir / "photons_data" / "*.root"), drop_truth=True)
    feats = ["eta", "pt", *SHOWER_SHAPES]
    half_mc, half_da = len(mc) // 2, len(data) // 2
    rw = LikelihoodRatioReweighter(max_iter=40, n_folds=1, random_state=3)
    rw.fit(mc[feats][:half_mc].to_numpy(), data[feats][:half_da].to_numpy())
    test_mc, test_da = mc[half_mc:], data[half_da:]
    w = rw.weights(test_mc[feats].to_numpy(), sample_weight=test_mc["weight"].to_numpy())
    ks0 = ks_distances(test_mc, test_da, SHOWER_SHAPES, mc_weight=test_mc["weight"].to_numpy())
    ks1 = ks_distances(test_mc, test_da, SHOWER_SHAPES, mc_weight=w)
    assert np.mean(list(ks1.values())) < np.mean(list(ks0.values()))
    assert max(ks1.values()) < max(ks0.values())


def test_reweight_function_and_errors():
    rng = np.random.default_rng(99)
    w = reweight(rng.normal(size=(300, 1)), rng.normal(size=(300, 1)), max_iter=10, n_folds=3)
    assert w.shape == (300,)
    with pytest.raises(ConfigError, match="classifier"):
        LikelihoodRatioReweighter(classifier="forest").fit(np.ones((5, 1)), np.ones((5, 1)))
    with pytest.raises(ConfigError, match="max_weight"):
        LikelihoodRatioReweighter(max_weight=1.0).fit(np.ones((5, 1)), np.ones((5, 1)))
    with pytest.raises(NonFiniteValueError, match="X_data"):
        LikelihoodRatioReweighter().fit(np.ones((5, 1)), np.array([[np.nan]] * 5))
    with pytest.raises(ConfigError, match="but X_data has 2"):
        LikelihoodRatioReweighter().fit(np.ones((5, 1)), np.ones((5, 2)))
    with pytest.raises(ConfigError, match="not fitted"):
        LikelihoodRatioReweighter().weights(np.ones((3, 1)))
    assert weighted_ks([1.0, 2.0], [3.0, 4.0]) == 1.0
