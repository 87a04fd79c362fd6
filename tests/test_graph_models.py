"""Set / graph models over calorimeter cells (Deep Sets, EdgeConv) with every penalty."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from decorr_af.columnar.cells import CellSet
from decorr_af.decorrelation import distance_correlation
from decorr_af.decorrelation.penalties import Adversary, DisCo, DomainAdversary, DomainDisCo
from decorr_af.errors import ConfigError

torch = pytest.importorskip("torch")

from decorr_af.models import load_model  # noqa: E402
from decorr_af.models.graph import GraphClassifier, GraphRegressor  # noqa: E402
from decorr_af.models.registry import make_estimator  # noqa: E402
from decorr_af.nets_graph import (  # noqa: E402
    DeepSetsNet,
    EdgeConvNet,
    knn_graph,
    pool_segments,
    segment_max,
    segment_mean,
    segment_sum,
)

NAMES = ("layer", "deta", "dphi", "e", "t")
FAST = {"hidden": (16, 16), "head": (16,), "epochs": 6, "batch_size": 128, "lr": 5e-3}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def make_cells(n, seed, *, width=None, t_mean=0.0, escale=1.0, low=6, high=20):
    """Photons with ``low..high`` cells; ``width`` / ``t_mean`` (per photon): spread, timing."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(low, high, size=n)
    seg = np.repeat(np.arange(n), counts)
    w = np.full(n, 0.02) if width is None else np.asarray(width)
    tm = np.broadcast_to(np.asarray(t_mean, dtype=float), (n,))
    deta = rng.normal(size=len(seg)) * w[seg]
    dphi = rng.normal(size=len(seg)) * w[seg]
    e = escale * rng.exponential(1.0, len(seg)) * np.exp(-(deta**2 + dphi**2) / (2 * w[seg] ** 2))
    feats = np.column_stack(
        [rng.integers(0, 4, len(seg)), deta, dphi, e, rng.normal(size=len(seg)) + tm[seg]]
    )
    glob = np.column_stack([rng.uniform(-2, 2, n)])
    return CellSet(np.r_[0, np.cumsum(counts)], feats, NAMES, glob, ("eta",))


def width_toy(n, seed, t_shift=0.0):
    """Prompt (narrow, late) vs fake (broad) showers; the fake width follows the protected m.

    The cell timing separates too (independently of m); ``t_shift`` mismodels it.
    """
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    m = rng.uniform(0, 1, n)
    width = np.where(y == 1, 0.01 + 0.005 * rng.random(n), 0.015 + 0.03 * m)
    t_mean = 0.4 * y + t_shift
    return make_cells(n, seed + 1, width=width, t_mean=t_mean), y, m


def permute_within(cs, seed):
    rng = np.random.default_rng(seed)
    rows = np.concatenate(
        [a + rng.permutation(b - a) for a, b in zip(cs.offsets[:-1], cs.offsets[1:], strict=True)]
    )
    return CellSet(cs.offsets, cs.features[rows], cs.names, cs.globals, cs.global_names)


@pytest.fixture(scope="module")
def toy():
    return width_toy(800, 11)


@pytest.fixture(scope="module")
def plain(toy):
    cs, y, m = toy
    return GraphClassifier(**FAST, device="cpu", random_state=3).fit(cs, y, protected=m)


# --------------------------------------------------------------------- kernels
def test_segment_ops_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    seg = np.sort(rng.integers(0, 5, 20))
    seg[seg == 3] = 2  # segment 3 stays empty
    xt, st = torch.as_tensor(x), torch.as_tensor(seg)
    for s in range(5):
        sel = x[seg == s]
        exp_sum = sel.sum(axis=0)
        exp_mean = sel.mean(axis=0) if len(sel) else np.zeros(3)
        exp_max = sel.max(axis=0) if len(sel) else np.zeros(3)
        np.testing.assert_allclose(segment_sum(xt, st, 5)[s].numpy(), exp_sum)
        np.testing.assert_allclose(segment_mean(xt, st, 5)[s].numpy(), exp_mean)
        np.testing.assert_allclose(segment_max(xt, st, 5)[s].numpy(), exp_max)
    lengths = torch.bincount(st, minlength=5)
    for how, fn in (("sum", segment_sum), ("mean", segment_mean), ("max", segment_max)):
        np.testing.assert_allclose(pool_segments(xt, lengths, how), fn(xt, st, 5))


def test_knn_graph_matches_brute_force_per_photon():
    rng = np.random.default_rng(1)
    counts = np.r_[rng.integers(1, 40, 30), 0, 3]  # tiny photons get self-loops
    off = np.r_[0, np.cumsum(counts)]
    x = rng.normal(size=(off[-1], 3))
    k = 4
    nb = knn_graph(torch.as_tensor(x), torch.as_tensor(off), k, max_pairs=500).numpy()
    assert nb.shape == (off[-1], k)
    for a, b in itertools.pairwise(off):
        pts = x[a:b]
        d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
        np.fill_diagonal(d, np.inf)
        for i in range(b - a):
            want = np.argsort(d[i])[: min(k, b - a - 1)]
            got = nb[a + i]
            assert set(got[: len(want)]) == set(want)
            assert (got[len(want) :] == i).all()  # missing neighbours: the cell itself
    # the chunking only bounds memory: any budget gives the same graph
    for budget in (1, 1 << 22):
        again = knn_graph(torch.as_tensor(x), torch.as_tensor(off), k, max_pairs=budget)
        np.testing.assert_array_equal(again.numpy(), nb)


def test_knn_graph_chunks_stay_within_the_pair_budget(monkeypatch):
    counts = np.r_[np.ones(50, int), np.full(10, 40)]  # many tiny photons, then big ones
    off = np.r_[0, np.cumsum(counts)]
    x = torch.randn(off[-1], 2)
    sizes = []
    cdist = torch.cdist

    def spy(a, b):
        sizes.append(a.shape[0] * a.shape[1] * b.shape[1])
        return cdist(a, b)

    monkeypatch.setattr(torch, "cdist", spy)
    knn_graph(x, torch.as_tensor(off), 3, max_pairs=40 * 40 * 2)
    assert max(sizes) <= 40 * 40 * 2


@pytest.mark.parametrize("cls", [DeepSetsNet, EdgeConvNet])
def test_nets_shapes_and_empty_photon(cls):
    net = cls(4, 2, hidden=(8, 8), head=(8,))
    nb = torch.tensor([[1, 2], [0, 2], [0, 1], [4, 4], [3, 3]])
    out = net(torch.randn(5, 4), torch.tensor([3, 0, 2]), nb, torch.zeros(3, 2))
    assert out.shape == (3, 1)
    assert torch.isfinite(out).all()


def test_bad_network_options_name_the_parameter():
    with pytest.raises(ConfigError, match="pooling"):
        DeepSetsNet(3, pooling=("median",))
    with pytest.raises(ConfigError, match="aggregate"):
        EdgeConvNet(3, aggregate="sum")
    with pytest.raises(ConfigError, match="architecture"):
        GraphClassifier(architecture="transformer").fit(*width_toy(20, 0)[:2])


# ------------------------------------------------------------------ estimators
@pytest.mark.parametrize("arch", ["deepsets", "edgeconv"])
def test_classifier_learns_shower_width(arch):
    cs, y, _ = width_toy(1200, 5)
    test_cs, test_y, _ = width_toy(600, 99)
    clf = GraphClassifier(**FAST, architecture=arch, device="cpu", random_state=0).fit(cs, y)
    assert clf.score(test_cs, test_y) > 0.85
    assert clf.predict_proba(test_cs).shape == (600, 2)
    assert set(np.unique(clf.predict(test_cs))) <= {0, 1}


@pytest.mark.parametrize("arch", ["deepsets", "edgeconv"])
def test_regressor_learns_sum_of_cell_energies(arch):
    cs = make_cells(1500, 7)
    target = np.add.reduceat(cs.column("e"), cs.offsets[:-1])
    test_cs = make_cells(500, 8)
    test_target = np.add.reduceat(test_cs.column("e"), test_cs.offsets[:-1])
    reg = GraphRegressor(**{**FAST, "epochs": 15}, architecture=arch, device="cpu", random_state=0)
    reg.fit(cs, target)
    assert reg.score(test_cs, test_target) > 0.9


@pytest.mark.parametrize("arch", ["deepsets", "edgeconv"])
def test_permutation_invariance_and_batching(toy, arch):
    cs, y, _ = toy
    clf = GraphClassifier(**{**FAST, "epochs": 1}, architecture=arch, device="cpu", random_state=1)
    clf.fit(cs, y)
    ref = clf._raw(cs)
    np.testing.assert_allclose(clf._raw(permute_within(cs, 3)), ref, rtol=1e-5, atol=1e-5)
    for per_batch in (1, 7, len(cs)):
        np.testing.assert_allclose(
            clf._raw(cs, photons_per_batch=per_batch), ref, rtol=1e-5, atol=1e-5
        )
    # a photon predicted alone gets what it gets among the others
    np.testing.assert_allclose(clf._raw(cs[[5]]), ref[[5]], rtol=1e-5, atol=1e-5)


def test_absolute_eta_phi_become_relative(toy):
    cs, y, _ = toy
    n = len(cs)
    feats = cs.features.copy()
    names = ("layer", "eta", "phi", "e", "t")
    shift = np.random.default_rng(0).uniform(-2, 2, (n, 2))
    moved = feats.copy()
    moved[:, 1:3] += shift[cs.segment_ids]
    moved[:, 2] = np.angle(np.exp(1j * moved[:, 2]))  # φ wraps at ±π
    a = CellSet(cs.offsets, feats, names, cs.globals, cs.global_names)
    b = CellSet(cs.offsets, moved, names, cs.globals, cs.global_names)
    clf = GraphClassifier(**{**FAST, "epochs": 1}, device="cpu", random_state=1).fit(a, y)
    assert clf.transform_.columns[:3] == ("layer", "deta", "dphi")
    np.testing.assert_allclose(clf._raw(b), clf._raw(a), rtol=1e-4, atol=1e-4)


def test_determinism_and_history(toy, plain):
    cs, y, m = toy
    again = GraphClassifier(**FAST, device="cpu", random_state=3).fit(cs, y, protected=m)
    np.testing.assert_array_equal(again.predict_proba(cs), plain.predict_proba(cs))
    assert len(plain.history_["loss"]) == FAST["epochs"]
    assert "dcor2_protected" in plain.history_
    assert plain.history_["main_loss"][-1] < plain.history_["main_loss"][0]


def bkg_dcor2(model, cs, y, m):
    p = model.predict_proba(cs)[:, 1]
    return distance_correlation(p[y == 0], m[y == 0], squared=True)


def test_disco_reduces_dcor_with_protected(toy, plain):
    cs, y, m = toy
    model = GraphClassifier(**FAST, device="cpu", random_state=3, penalty=DisCo(strength=20.0))
    model.fit(cs, y, protected=m)
    before, after = bkg_dcor2(plain, cs, y, m), bkg_dcor2(model, cs, y, m)
    assert before > 0.1
    assert after < 0.5 * before
    assert model.score(cs, y) > 0.6  # the timing still separates; the width is penalised
    assert model.history_["penalty_factor"][-1] == 1.0


def test_adversary_trains(toy, plain):
    cs, y, m = toy
    pen = Adversary(strength=2.0, n_components=3, lr=5e-3, pretrain_epochs=1, steps_per_batch=2)
    model = GraphClassifier(**FAST, device="cpu", random_state=3, penalty=pen)
    model.fit(cs, y, protected=m)
    assert "adversary_loss" in model.history_
    assert np.isfinite(model.history_["loss"]).all()
    assert bkg_dcor2(model, cs, y, m) < bkg_dcor2(plain, cs, y, m)


@pytest.mark.parametrize(
    "penalty", [DomainDisCo(strength=30.0), DomainAdversary(strength=3.0, lr=5e-3)]
)
def test_domain_penalties_train(penalty):
    cs, y, _ = width_toy(600, 21)
    data, _, _ = width_toy(600, 22, t_shift=0.4)  # mismodelled cell timing

    def gap(model):
        s_mc, s_data = model.predict_proba(cs)[:, 1], model.predict_proba(data)[:, 1]
        lab = np.r_[np.zeros(len(s_mc)), np.ones(len(s_data))]
        return distance_correlation(np.r_[s_mc, s_data], lab, squared=True)

    kw = {**FAST, "device": "cpu", "random_state": 2}
    plain = GraphClassifier(**kw).fit(cs, y)
    model = GraphClassifier(**kw, penalty=penalty).fit(cs, y, domain_X=data)
    assert "dcor2_domain" in model.history_
    assert gap(model) < gap(plain)


def test_regressor_disco_and_early_stopping():
    rng = np.random.default_rng(3)
    n = 800
    mu = rng.uniform(0, 1, n)
    cs = make_cells(n, 4, escale=1.0)
    esum = np.add.reduceat(cs.column("e"), cs.offsets[:-1])
    target = esum + 3.0 * mu  # the prediction leaks μ unless penalised
    cs = CellSet(cs.offsets, cs.features, cs.names, np.column_stack([mu]), ("mu",))
    kw = {**FAST, "epochs": 8, "device": "cpu", "random_state": 0}
    plain = GraphRegressor(**kw).fit(cs, target, protected=mu)
    model = GraphRegressor(**kw, penalty=DisCo(strength=10.0), early_stopping=True)
    model.fit(cs, target, protected=mu)
    d_plain = distance_correlation(plain.predict(cs), mu, squared=True)
    d_pen = distance_correlation(model.predict(cs), mu, squared=True)
    assert d_pen < 0.5 * d_plain
    assert "val_objective" in model.history_
    assert "best_epoch" in model.history_


@pytest.mark.parametrize("arch", ["deepsets", "edgeconv"])
def test_save_load_round_trip(tmp_path, toy, arch):
    cs, y, m = toy
    clf = GraphClassifier(
        **{**FAST, "epochs": 1},
        architecture=arch,
        device="cpu",
        random_state=1,
        penalty=DisCo(strength=1.0),
    ).fit(cs, y, protected=m)
    clf.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert meta["class"] == "GraphClassifier"
    assert meta["penalty"]["name"] == "DisCo"
    back = load_model(tmp_path / "m")
    assert isinstance(back, GraphClassifier)
    np.testing.assert_allclose(back.predict_proba(cs), clf.predict_proba(cs), rtol=1e-6)
    assert back.get_params()["head"] == clf.get_params()["head"]
    assert back.penalty == clf.penalty


def test_registry_and_input_errors(toy):
    cs, y, _m = toy
    est = make_estimator("gnn", "regression", hidden=(8,), n_estimators=3, device="cpu")
    assert isinstance(est, GraphRegressor)
    assert est.hidden == (8,)
    assert isinstance(make_estimator("gnn", "classification"), GraphClassifier)
    with pytest.raises(ConfigError, match="CellSet"):
        GraphClassifier(device="cpu").fit(np.zeros((len(y), 3)), y)
    with pytest.raises(ConfigError, match="protected"):
        GraphClassifier(device="cpu", penalty=DisCo()).fit(cs, y)
    with pytest.raises(ConfigError, match="domain_X"):
        GraphClassifier(device="cpu", penalty=DomainDisCo()).fit(cs, y)
    other = CellSet(cs.offsets, cs.features[:, :4], NAMES[:4], cs.globals, cs.global_names)
    with pytest.raises(ConfigError, match="domain_X"):
        GraphClassifier(device="cpu", penalty=DomainDisCo()).fit(cs, y, domain_X=other)
    with pytest.raises(ConfigError, match="graph_features"):
        GraphClassifier(device="cpu", graph_features=("r",), epochs=1).fit(cs, y)
    with pytest.raises(ConfigError, match="cell_features"):
        GraphClassifier(device="cpu", cell_features=("r",), epochs=1).fit(cs, y)
    with pytest.raises(ConfigError, match="not fitted"):
        GraphClassifier().predict(cs)


@pytest.mark.parametrize(
    "penalty",
    [
        DisCo(strength=1.0),
        Adversary(strength=0.5, n_components=2, hidden=(8,)),
        DomainDisCo(strength=1.0),
        DomainAdversary(strength=0.5, hidden=(8,)),
    ],
    ids=lambda p: type(p).__name__,
)
def test_regressor_trains_with_every_penalty(penalty):
    cs = make_cells(300, 31)
    data = make_cells(300, 32, escale=1.2)
    target = np.add.reduceat(cs.column("e"), cs.offsets[:-1])
    mu = np.random.default_rng(0).uniform(0, 1, len(cs))
    reg = GraphRegressor(**{**FAST, "epochs": 2}, device="cpu", random_state=0, penalty=penalty)
    reg.fit(cs, target, protected=mu, domain_X=data)
    assert np.isfinite(reg.history_["penalty_loss"]).all()
    assert np.isfinite(reg.predict(data)).all()


# ------------------------------------------------------------------- workflows
@pytest.fixture(scope="module")
def cells_sample(tmp_path_factory):
    from decorr_af.data import generate

    out = tmp_path_factory.mktemp("cells")
    generate(out, sample="photons", kind="mc", events=1500, seed=3, cells=True)
    return out


def test_photon_id_trains_cells_gnn_next_to_an_mlp(cells_sample):
    from decorr_af.workflows import photon_id

    cfg = photon_id.Config(
        mc_files=(str(cells_sample / "*.root"),),
        models=("plain_mlp", "cells_gnn"),
        hidden=(16,),
        epochs=8,
        batch_size=128,
        lr=3e-3,
        device="cpu",
        jsd_permutations=5,
    )
    (spec,) = [s for s in cfg.model_specs() if s.name == "cells_gnn"]
    assert spec.estimator == "gnn"
    res = photon_id.run(cfg, strength=2.0, seed=5)
    assert res.metrics["cells_gnn.auc"] > 0.7
    assert np.isfinite(res.metrics["cells_gnn.dcor"])
    assert res.info["models"]["cells_gnn"]["penalty"]["strength"] == pytest.approx(2.0)
    assert res.metrics["plain_mlp.auc"] > 0.6


def test_calibration_trains_cells_gnn(cells_sample, tmp_path_factory):
    from decorr_af.data import generate
    from decorr_af.workflows import calibration

    data_dir = tmp_path_factory.mktemp("cells_data")
    generate(data_dir, sample="photons", kind="data", events=1500, seed=4, cells=True)
    gnn = {"hidden": [16, 16], "head": [16], "epochs": 3, "batch_size": 128, "lr": 3e-3}
    cfg = calibration.Config(
        mc_files=(str(cells_sample / "*.root"),),
        data_files=(str(data_dir / "*.root"),),
        models=("shapes_mlp", {"name": "cells_gnn", "preset": "cells_gnn", "params": gnn}),
        mlp={"hidden": [16], "epochs": 3, "batch_size": 256},
        device="cpu",
    )
    res = calibration.run(cfg, strength=1.0, seed=2)
    assert res.info["models"]["cells_gnn"]["estimator"] == "gnn"
    assert res.info["models"]["cells_gnn"]["penalty"]["kind"] == "DomainDisCo"
    keys = [k for k in res.metrics if k.startswith("cells_gnn.")]
    assert keys
    assert all(np.isfinite(res.metrics[k]) for k in keys if "resolution" in k)
    assert isinstance(res.estimators["cells_gnn"], GraphRegressor)


# ------------------------------------------------------------- physics design
def test_layer_sum_and_attention_pools_match_numpy():
    from decorr_af.nets_graph import POOLINGS, AttentionPool, PoolInput

    rng = np.random.default_rng(3)
    counts = np.array([[2, 0, 3], [0, 1, 0]])  # (photon, layer), cells sorted by layer
    n_cells = int(counts.sum())
    h = torch.tensor(rng.normal(size=(n_cells, 2)), dtype=torch.float64)
    lengths = torch.tensor(counts.sum(axis=1))
    p = PoolInput(h, lengths, torch.tensor(counts.reshape(-1)))
    out = POOLINGS["layer_sum"](2, 3)(p).numpy()
    seg = np.repeat(np.arange(counts.size), counts.reshape(-1))
    expect = np.stack([np.bincount(seg, h[:, j].numpy(), minlength=counts.size) for j in (0, 1)], 1)
    np.testing.assert_allclose(out, expect.reshape(2, 6))
    att = AttentionPool(2, 3).double()
    w = torch.exp(8.0 * (torch.tanh(att.score(h) / 8.0) - 1.0)).detach().numpy()[:, 0]
    photon = np.repeat([0, 1], counts.sum(axis=1))
    for i in (0, 1):
        sel = photon == i
        ref = (w[sel, None] * h.numpy()[sel]).sum(0) / w[sel].sum()
        np.testing.assert_allclose(att(p).detach().numpy()[i], ref, rtol=1e-10)
    mean = POOLINGS["mean"](2, 3)(p).numpy()
    np.testing.assert_allclose(mean[0], h.numpy()[:5].mean(0))


def test_physics_design_features_invariance_and_round_trip(tmp_path):
    from decorr_af.models.cell_features import PHYSICS_DESIGN
    from decorr_af.models.graph import CellTransform

    cs = make_cells(200, 41)
    cs = CellSet(cs.offsets, cs.features, cs.names,
                 np.column_stack([cs.globals[:, 0], np.full(len(cs), 50.0), np.zeros(len(cs))]),
                 ("eta", "e_raw", "converted"))  # fmt: skip
    target = np.add.reduceat(cs.column("e"), cs.offsets[:-1])
    reg = GraphRegressor(**{**FAST, **PHYSICS_DESIGN, "epochs": 3}, device="cpu", random_state=0)
    reg.fit(cs, target)
    cols = reg.transform_.columns
    assert cols[:5] == tuple(f"layer_{i}" for i in range(5))
    assert "energy_fraction" in cols
    assert reg.transform_.global_columns == ("converted", "abs_eta", "log_e_raw")
    i_frac = cols.index("energy_fraction")
    assert (reg.transform_.mean[i_frac], reg.transform_.scale[i_frac]) == (0.0, 1.0)
    pred = reg.predict(cs)
    # the per-layer sort makes the model independent of the cell order within a photon
    np.testing.assert_allclose(reg.predict(permute_within(cs, 5)), pred, rtol=1e-4, atol=1e-5)
    reg.save(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(cs), pred, rtol=1e-6)
    old = {k: v for k, v in reg.transform_.to_dict().items() if "derived" not in k}
    assert CellTransform.from_dict(old).derived == ()  # states saved before derived features


def test_physics_design_errors_name_the_parameter():
    cs = make_cells(30, 1)
    with pytest.raises(ConfigError, match="pooling"):
        GraphRegressor(pooling=("median",), device="cpu").fit(cs, np.ones(30))
    with pytest.raises(ConfigError, match="global_features"):
        GraphRegressor(global_features=("log_e_raw",), device="cpu", epochs=1).fit(cs, np.ones(30))
    no_layer = CellSet(cs.offsets, cs.features[:, 1:], NAMES[1:], cs.globals, cs.global_names)
    with pytest.raises(ConfigError, match="layer"):
        GraphRegressor(pooling=("layer_sum",), device="cpu", epochs=1).fit(no_layer, np.ones(30))
