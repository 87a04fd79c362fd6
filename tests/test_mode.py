"""MoDe (moment decorrelation): value and gradient against a direct implementation,
torch = numpy, the order-0 / order-1 behaviour on a toy, and the protocol."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.decorrelation.penalties import (
    MoDe,
    PenaltyBatch,
    _binned,
    make_penalty,
    penalty_from_dict,
)
from decorr_af.errors import ConfigError

torch = pytest.importorskip("torch")


def direct_mode(s, w, z, *, order, n_bins, thresholds, tau):
    """MoDe_order by the literal formula: loops over thresholds, np.polynomial.legendre.legfit."""
    edges = np.quantile(z, np.linspace(0, 1, n_bins + 1)[1:-1], method="inverted_cdf")
    b = np.searchsorted(edges, z, side="left")
    wb = np.array([w[b == k].sum() for k in range(n_bins)])
    centers = np.array([z[b == k].mean() for k in range(n_bins)])
    x = 2 * (centers - centers.min()) / (centers.max() - centers.min()) - 1
    total = 0.0
    for t in thresholds:
        step = 1 / (1 + np.exp(-(s - t) / tau))
        eff = np.array([(w[b == k] * step[b == k]).sum() / wb[k] for k in range(n_bins)])
        coef = np.polynomial.legendre.legfit(x, eff, order, w=np.sqrt(wb))
        resid = eff - np.polynomial.legendre.legval(x, coef)
        total += (wb * resid**2).sum()
    return total / (len(thresholds) * wb.sum())


@pytest.fixture
def small():
    rng = np.random.default_rng(2024)
    n = 80
    z = rng.uniform(-1, 1, n)
    s = 1 / (1 + np.exp(-(1.5 * z + rng.normal(size=n))))
    return s, rng.uniform(0.5, 2.0, n), z


@pytest.mark.parametrize("order", [0, 1, 2])
def test_value_and_gradient_match_direct_formula(small, order):
    s, w, z = small
    pen = MoDe(strength=3.0, order=order, on="all", bins=6, thresholds=5, temperature=0.2)
    pen.setup(task="regression")
    value, grad, hess = pen.boost_terms(s, weight=w, protected=z)
    # the constants of this evaluation (thresholds, width), frozen for finite differences
    cuts = _binned.binned_cuts(s, w, _binned.quantile_bins(z, 6), 6, n_thresholds=5,
                               temperature=0.2)  # fmt: skip
    kw = {"order": order, "n_bins": 6, "thresholds": cuts.thresholds, "tau": cuts.tau}
    assert value == pytest.approx(3.0 * direct_mode(s, w, z, **kw), rel=1e-10)
    eps = 1e-6
    fd = np.array([
        (direct_mode(s + eps * e, w, z, **kw) - direct_mode(s - eps * e, w, z, **kw)) / (2 * eps)
        for e in np.eye(len(s))
    ])  # fmt: skip
    np.testing.assert_allclose(grad, 3.0 * fd, rtol=1e-5, atol=1e-9)
    assert (hess >= 0).all()


@pytest.mark.parametrize("order", [0, 1, 2])
def test_torch_loss_equals_boost_terms(small, order):
    s, w, z = small
    y = (np.arange(len(s)) % 3 == 0).astype(float)
    pen = MoDe(strength=2.0, order=order, bins=5)  # "auto": the background of a classifier
    pen.setup(task="classification")
    value, grad, _ = pen.boost_terms(s, y=y, weight=w, protected=z)
    st = torch.tensor(s, requires_grad=True)
    loss = pen.loss(st, PenaltyBatch(weight=torch.tensor(w), y=torch.tensor(y),
                                     protected=torch.tensor(z[:, None])))  # fmt: skip
    loss.backward()
    assert float(loss.detach()) == pytest.approx(value, rel=1e-10)
    np.testing.assert_allclose(st.grad.numpy(), grad, rtol=1e-8, atol=1e-14)
    assert not grad[y == 1].any()  # signal rows are not penalised


def test_order_one_allows_a_line_order_zero_does_not():
    """Efficiencies exactly linear in the bin position: order 1 (and 2) see nothing."""
    z = np.repeat(np.linspace(-1, 1, 8), 50)
    rng = np.random.default_rng(5)
    s = 0.4 * z + rng.normal(size=len(z))  # linear shift of the score with z
    vals = {o: MoDe(order=o, on="all").boost_terms(s, protected=z)[0] for o in (0, 1, 2)}
    assert vals[0] > 5 * vals[1]
    assert vals[2] <= vals[1] + 1e-15


def toy(seed=3, n=4000):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    z = np.where(y == 1, rng.uniform(-0.2, 1.0, n), rng.uniform(-1, 1, n))
    x0 = rng.normal(1.5 * y, 1.0)
    x1 = z + 0.3 * rng.normal(size=n)  # a proxy of z: the plain classifier sculpts
    return np.column_stack([x0, x1]), y, z


def background_efficiency_fit(s, y, z):
    """Quadratic fit (coefficients high to low) of the background efficiency vs z."""
    b = y == 0
    thr = np.quantile(s[b], 0.7)
    edges = np.linspace(-1, 1, 6)
    idx = np.digitize(z[b], edges[1:-1])
    eff = np.array([(s[b][idx == k] > thr).mean() for k in range(5)])
    return np.polyfit(0.5 * (edges[1:] + edges[:-1]), eff, 2)


def test_mlp_order_zero_flat_order_one_linear():
    from decorr_af.models import DecorrelatedClassifier

    X, y, z = toy()
    kw = {"hidden": (16, 16), "epochs": 10, "batch_size": 500, "lr": 3e-3, "device": "cpu",
          "random_state": 0}  # fmt: skip
    fits = {}
    for name, pen in [("plain", None), ("o0", MoDe(100.0, order=0)), ("o1", MoDe(100.0, order=1))]:
        clf = DecorrelatedClassifier(**kw, penalty=pen).fit(X, y, protected=z)
        fits[name] = background_efficiency_fit(clf.predict_proba(X)[:, 1], y, z)
        assert clf.score(X, y) > 0.75
        if pen is not None:
            assert "mode_protected" in clf.history_
    _quad0, slope0, _ = fits["o0"]
    quad1, slope1, _ = fits["o1"]
    quad_plain, slope_plain, _ = fits["plain"]
    assert slope_plain > 0.15  # the plain classifier sculpts
    assert abs(slope0) < 0.06  # order 0: flat
    assert slope1 > 0.08
    assert slope1 > 2 * abs(slope0)
    assert abs(quad1) < 0.5 * abs(quad_plain)  # ... but the curvature is removed


def test_bdt_with_mode_flattens():
    pytest.importorskip("xgboost")
    from decorr_af.models import DisCoXGBClassifier

    X, y, z = toy(seed=11, n=3000)
    vals = {}
    for lam in (0.0, 200.0):
        clf = DisCoXGBClassifier(n_estimators=30, max_depth=3, device="cpu",
                                 penalty=MoDe(strength=lam)).fit(X, y, protected=z)  # fmt: skip
        s = clf.predict_proba(X)[:, 1]
        vals[lam] = MoDe(on="all").boost_terms(s[y == 0], protected=z[y == 0])[0]
    assert vals[200.0] < 0.5 * vals[0.0]


def test_protocol_and_errors():
    pen = make_penalty("mode", strength=2.0, order=1)
    assert isinstance(pen, MoDe)
    assert MoDe.supports_boosting()
    assert penalty_from_dict(pen.to_dict()) == pen
    with pytest.raises(ConfigError, match="order=3"):
        MoDe(order=3).validate()
    with pytest.raises(ConfigError, match="bins=3 must be >= order"):
        MoDe(order=2, bins=3).validate()
    with pytest.raises(ConfigError, match="temperature"):
        MoDe(temperature=0.0).validate()
    # the validation term is λ × the monitored MoDe value only
    assert pen.validation_term({"mode_m": 0.25, "dcor2_m": 0.5}) == pytest.approx(0.5)


def test_constant_output_gives_zero():
    z = np.linspace(0, 1, 50)
    value, grad, hess = MoDe(on="all").boost_terms(np.full(50, 0.3), protected=z)
    assert value == 0.0
    assert not grad.any()
    assert not hess.any()


def test_presets_resolve_for_both_classifier_workflows():
    from decorr_af.workflows import photon_id, tth
    from decorr_af.workflows._classify import FLAT_SCALE, MODE_SCALE, PRESETS

    for cfg in (photon_id.Config(bdt_scale=0.5), tth.Config(bdt_scale=0.5)):
        mode = PRESETS.resolve("mode_mlp", cfg)
        assert mode["estimator"] == "mlp"
        assert mode["penalty"] == {"kind": "MoDe", "order": 0, "on": "background",
                                   "scale": MODE_SCALE}  # fmt: skip
        flat = PRESETS.resolve("flat_bdt", cfg)
        assert flat["estimator"] == "bdt"
        assert flat["penalty"]["kind"] == "Flatness"
        assert flat["penalty"]["scale"] == pytest.approx(0.5 * FLAT_SCALE)


def test_photon_id_runs_mode_mlp_and_flat_bdt(sample_dir):
    pytest.importorskip("xgboost")
    from decorr_af.workflows import photon_id
    from decorr_af.workflows._classify import FLAT_SCALE, MODE_SCALE

    cfg = photon_id.Config(
        mc_files=(str(sample_dir / "photons_mc" / "*.root"),),
        models=("plain_mlp", "mode_mlp", "flat_bdt"),
        hidden=(16,),
        epochs=3,
        lr=3e-3,
        n_estimators=20,
        max_depth=3,
        device="cpu",
        jsd_permutations=5,
    )
    res = photon_id.run(cfg, strength=2.0, seed=5)
    for name in ("mode_mlp", "flat_bdt"):
        assert res.metrics[f"{name}.auc"] > 0.6
        assert np.isfinite(res.metrics[f"{name}.dcor"])
    models = res.info["models"]
    assert models["mode_mlp"]["penalty"]["strength"] == pytest.approx(2.0 * MODE_SCALE)
    assert models["flat_bdt"]["penalty"]["strength"] == pytest.approx(2.0 * FLAT_SCALE)
