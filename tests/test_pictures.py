"""Figures checked as pictures (:func:`decorr_af.plot.check_figure`).

The checker itself is tested on figures with known faults; then every figure the
library draws is checked: the scan plots on small fabricated scans (fast; the
report's figures in ``test_report.py``, the widgets' in ``test_widgets.py``), and
every workflow plot function on the outputs of a small real demo run (``slow``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("mplhep")

from matplotlib.figure import Figure
from test_report import make_report_dir

from decorr_af.plot import check_figure
from decorr_af.plot.style import atlas_label, ratio_axes, use_style


def _kinds(fig) -> list[str]:
    return [p.kind for p in check_figure(fig).problems]


# -- the checker ------------------------------------------------------------------
def test_clean_figure_passes():
    use_style()
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [3, 1, 2], label="a curve")
    ax.set_xlabel(r"$p_{T}$ [GeV]")
    ax.set_ylabel(r"$m_{\gamma\gamma}$ [GeV]")
    ax.legend(loc="upper right")
    check = check_figure(fig)
    assert check.ok, str(check)
    assert str(check) == "figure OK"


def test_overlapping_texts_are_found():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1])
    ax.text(0.5, 0.5, "ABCD non-closure +0.31", transform=ax.transAxes, ha="right")
    ax.text(0.45, 0.5, "ε_S = 85 % WP", transform=ax.transAxes)
    problems = check_figure(fig).problems
    assert [p.kind for p in problems] == ["overlap"]
    assert "ABCD" in problems[0].message
    assert "85 %" in problems[0].message


def test_text_under_the_legend_is_found():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], label="a long legend entry")
    leg = ax.legend(loc="center")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    box = leg.get_window_extent()
    x, y = ax.transAxes.inverted().transform(((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2))
    ax.text(x, y, "hidden note", transform=ax.transAxes)
    assert _kinds(fig) == ["overlap"]


def test_empty_axes_is_found():
    fig = Figure()
    fig.add_subplot(2, 1, 1).plot([0, 1])
    fig.add_subplot(2, 1, 2)  # a stray, empty frame
    problems = check_figure(fig).problems
    assert [p.kind for p in problems] == ["empty_axes"]
    assert "axes 1" in problems[0].message


@pytest.mark.parametrize(
    "label",
    ["$m_{yy} [GeV]", r"m_{\gamma\gamma} [GeV]", r"cost \$5", r"\\$m_{yy}$ [GeV]"],
)
def test_raw_tex_is_found(label):
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1])
    ax.set_ylabel(label)
    kinds = _kinds(fig)
    assert kinds[:1] in (["raw_tex"], ["render"]), kinds


def test_bad_mathtext_is_a_render_problem():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1])
    ax.set_xlabel(r"$\frac{a$")
    assert _kinds(fig) == ["render"]


def test_legend_entry_not_on_the_plot_is_found():
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="drawn")
    ax.plot([5, 6], [5, 6], label="outside")
    ax.plot([np.nan, np.nan], [1, 2], label="nan")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend()
    messages = [p.message for p in check_figure(fig).problems if p.kind == "legend"]
    assert len(messages) == 2
    assert any("'outside'" in m for m in messages)
    assert any("'nan'" in m for m in messages)


def test_legend_entry_hidden_under_an_identical_curve_is_found():
    fig = Figure()
    ax = fig.add_subplot()
    x = np.linspace(0, 1, 20)
    ax.plot(x, x**2, label="MLP")
    ax.plot(x, x**2, label="DisCo MLP")
    ax.legend()
    problems = check_figure(fig).problems
    assert [p.kind for p in problems] == ["legend"]
    assert "'MLP' is hidden under 'DisCo MLP'" in problems[0].message


def test_mplhep_histogram_legend_is_accepted():
    import mplhep

    use_style()
    fig = Figure()
    ax = fig.add_subplot()
    mplhep.histplot(np.array([1.0, 3.0, 2.0]), np.array([0.0, 1.0, 2.0, 3.0]), ax=ax, label="h")
    ax.legend()
    assert check_figure(fig).ok, str(check_figure(fig))


# -- style fixes (each failed before) ---------------------------------------------
def test_ratio_panels_do_not_print_tick_labels_on_each_other():
    """Before: the main axes' lowest y tick label sat on the ratio panel's highest one."""
    use_style()
    rng = np.random.default_rng(2024)
    fig = Figure(figsize=(7, 5.6))
    ax, rax = ratio_axes(fig.add_subplot())
    edges = np.linspace(-5, 17.5, 31)
    values = np.histogram(rng.gamma(3, 1.5, 4000), edges, density=True)[0]
    ax.stairs(values, edges, label="fakes")
    rax.errorbar(0.5 * (edges[1:] + edges[:-1]), rng.normal(1, 0.2, 30), yerr=0.2, fmt="o")
    rax.set_ylim(0, 2.5)
    ax.set_ylabel("Normalised / GeV")
    rax.set_ylabel("Pass / fail")
    rax.set_xlabel("topoetcone20 [GeV]")
    ax.legend()
    atlas_label(ax, "Simulation Internal")
    check = check_figure(fig)
    assert check.ok, str(check)
    assert rax.yaxis.label.get_horizontalalignment() == "center"


def test_long_main_label_and_ratio_label_do_not_meet():
    use_style()
    fig = Figure(figsize=(7, 5.6))
    ax, rax = ratio_axes(fig.add_subplot())
    ax.plot([0.3, 1.0, 1.7], [1.0, 0.99, 0.97], "o")
    rax.plot([0.3, 1.0, 1.7], [1.0, 1.01, 0.99], "o")
    ax.set_ylabel(r"Median $E_{pred}/E_{true}$")
    rax.set_ylabel("Data / MC")
    atlas_label(ax, "Simulation Internal")
    assert check_figure(fig).ok, str(check_figure(fig))


def test_small_values_leave_no_offset_text_on_the_atlas_label():
    """Before: IQR/2 resolutions ~0.03 got a "×10⁻²" offset text on the ATLAS label."""
    use_style()
    fig = Figure(figsize=(7, 5.6))
    ax = fig.add_subplot()
    ax.errorbar([25, 35, 50, 80, 200], [0.035, 0.025, 0.021, 0.018, 0.02], yerr=0.001, fmt="o")
    ax.set_xscale("log")
    ax.set_ylabel("IQR/2 resolution")
    atlas_label(ax, "Simulation Internal")
    check = check_figure(fig)
    assert check.ok, str(check)
    assert ax.yaxis.get_offset_text().get_text() == ""


# -- scan plots and the report ------------------------------------------------------
@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    return make_report_dir(tmp_path_factory.mktemp("report"))


def test_scan_plots_have_readable_labels_and_pass(report_dir):
    from decorr_af.plot.scan import metric_vs_param, pareto_plot

    use_style()
    scan_dir = report_dir / "scans" / "photon_id"
    fig = Figure(figsize=(7, 5.2))
    art = pareto_plot(scan_dir, "disco_mlp.r50", "disco_mlp.inv_jsd", ax=fig.add_subplot())
    assert art.ax.get_xlabel() == "DisCo MLP: R50 (rejection at ε_S = 50 %)"
    assert art.ax.get_ylabel() == "DisCo MLP: 1/JSD"
    assert check_figure(fig).ok, str(check_figure(fig))
    fig = Figure(figsize=(7, 5.2))
    art = metric_vs_param(scan_dir, ["disco_mlp.dcor", "plain_mlp.dcor"], ax=fig.add_subplot())
    assert art.ax.get_xlabel() == "λ (decorrelation strength)"
    legend = [t.get_text() for t in art.ax.get_legend().get_texts()]
    assert legend == ["DisCo MLP: dCor(score, isolation)", "MLP: dCor(score, isolation)"]
    assert check_figure(fig).ok, str(check_figure(fig))


# -- every workflow figure, on a small real run (slow) ------------------------------
@pytest.mark.slow
def test_every_workflow_figure_passes(tmp_path, monkeypatch):
    """The demo's figures and every plot function of decorr_af.plot on its results."""
    from decorr_af import demo, report
    from decorr_af.plot import calibration as C
    from decorr_af.plot import photon_id as P
    from decorr_af.plot import tth as T
    from decorr_af.scan import load_scan

    checked: list[tuple[str, object]] = []
    tick_sizes: dict[str, float] = {}
    save_demo, save_report = demo._save, report._save_png

    def check_demo(fig, path):
        checked.append((f"demo {Path(path).name}", check_figure(fig)))
        tick_sizes[Path(path).name] = fig.axes[0].yaxis.get_major_ticks()[0].label1.get_size()
        return save_demo(fig, path)

    def check_report(fig, path):
        checked.append((f"report {Path(path).name}", check_figure(fig)))
        save_report(fig, path)

    monkeypatch.setattr(demo, "_save", check_demo)
    monkeypatch.setattr(report, "_save_png", check_report)
    out = tmp_path / "demo"
    demo.run_demo(out, quick=True, events=3000, seed=8128, progress=False,
                  workflows=["photon_id", "calibration", "tth"])  # fmt: skip
    assert len(checked) >= 8
    # one style for all: before, the first figure's axes predated the style (small ticks)
    assert len(set(tick_sizes.values())) == 1, tick_sizes
    scans = {name: load_scan(out / "scans" / name) for name in ("photon_id", "calibration", "tth")}

    def last(scan):
        return scan.result(scan.table.sort_values("strength")["id"].iloc[-1])

    pid, cal, tth_scan = last(scans["photon_id"]), last(scans["calibration"]), scans["tth"]
    tth_results = [tth_scan.result(i) for i in tth_scan.table.sort_values("strength")["id"]]
    use_style()
    draws = {
        "roc": lambda ax: P.plot_roc(pid, ax=ax),
        "isolation": lambda ax: P.plot_isolation_pass_fail(pid, "disco_mlp", ax=ax),
        "eff_vs_iso": lambda ax: P.plot_efficiency_vs_isolation(pid, ax=ax),
        "eff_vs_mu": lambda ax: P.plot_efficiency_vs_mu(pid, ax=ax),
        "response_eta": lambda ax: C.plot_response(cal, variable="abs_eta", ax=ax),
        "resolution_pt": lambda ax: C.plot_response(
            cal, variable="pt", quantity="resolution", ax=ax
        ),
        "ratio_distributions": lambda ax: C.plot_ratio_distributions(cal, ax=ax),
        "background_myy": lambda ax: T.plot_background_myy(tth_results[-1], "disco_mlp", ax=ax),
        "significance": lambda ax: T.plot_significance_vs_strength(tth_results, ax=ax),
    }
    for name, draw in draws.items():
        fig = Figure(figsize=(7, 5.6))
        draw(fig.add_subplot())
        checked.append((name, check_figure(fig)))
    bad = [f"{name}:\n{check}" for name, check in checked if not check.ok]
    assert not bad, "\n".join(bad)
