"""Write the toy samples as PHYSLITE-like ROOT files with uproot.

Layout of every file: one TTree ``CollectionTree`` with branches
``<Collection>AuxDyn.<field>`` (energies in MeV). Collections are written as
awkward records, so uproot adds one counter branch per jagged collection
(``nAnalysisPhotonsAuxDyn``, ...). ``EventInfoAuxDyn.mcEventWeights`` is a
variable-length vector as in real PHYSLITE (counter
``nEventInfoAuxDyn_mcEventWeights``). coffea's ``PHYSLITESchema`` turns them
into ``events.Photons``, ``events.Jets``, ``events.Electrons``,
``events.Muons`` and ``events.EventInfo``.

Reproducibility: events are generated in fixed blocks of
:data:`BLOCK_EVENTS` events, block ``b`` of file ``i`` drawing from
``numpy.random.SeedSequence([seed, sample, kind, i, b])``. The content of a
file is therefore independent of ``chunk_size`` (which only sets how many
blocks go into one ``tree.extend``; it is rounded up to a whole number of
blocks) but depends on ``files`` and ``events``. ``kind="mc"`` and
``kind="data"`` use different streams, so the same seed gives statistically
independent samples; ``kind="data"`` with two ``mismodelling`` values draws
the same random numbers through a differently built detector (see
:class:`decorr_af.data.calo.Conditions`).

Data files never contain truth: :func:`as_recorded` removes ``truthType``,
``truthOrigin`` and ``truth_e`` from every collection for ``kind="data"``,
sets ``EventInfo.eventTypeBitmask`` (bit 0 = IS_SIMULATION, as in xAOD) and
writes ``mcChannelNumber`` 0 in data.
"""

from __future__ import annotations

import enum
import math
import numbers
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from decorr_af.data.diphoton import simulate_diphoton
from decorr_af.data.electrons import simulate_zee
from decorr_af.data.layout import PHYSLITE, PhysliteLayout
from decorr_af.data.photons import simulate_photons
from decorr_af.data.radiative_z import simulate_zmumug
from decorr_af.errors import ConfigError

__all__ = ["BLOCK_EVENTS", "Kind", "Sample", "as_recorded", "generate", "iter_chunks"]

#: events per independently seeded block
BLOCK_EVENTS = 4096


class Sample(str, enum.Enum):
    """Which physics sample to generate."""

    PHOTONS = "photons"
    DIPHOTON = "diphoton"
    ZEE = "zee"
    ZMUMUG = "zmumug"


class Kind(str, enum.Enum):
    """Simulation ("mc") or toy collision data ("data", with mismodelling)."""

    MC = "mc"
    DATA = "data"


_SAMPLE_CODE = {Sample.PHOTONS: 1, Sample.DIPHOTON: 2, Sample.ZEE: 3, Sample.ZMUMUG: 4}
_SIMULATORS = {
    Sample.PHOTONS: simulate_photons,
    Sample.DIPHOTON: simulate_diphoton,
    Sample.ZEE: simulate_zee,
    Sample.ZMUMUG: simulate_zmumug,
}
_KIND_CODE = {Kind.MC: 11, Kind.DATA: 23}


def _choice(enum_cls: type[enum.Enum], value: Any, name: str) -> Any:
    try:
        return enum_cls(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in enum_cls)
        raise ConfigError(f"{name} must be one of {choices}, got {value!r}") from None


def _integer(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _simulate(
    sample: Sample,
    n: int,
    *,
    kind: Kind,
    mismodelling: float,
    rng,
    first_event: int,
    cell_rng: np.random.Generator | None = None,
):
    fn = _SIMULATORS[sample]
    extra: dict[str, Any] = {} if cell_rng is None else {"cells": True, "cell_rng": cell_rng}
    events = fn(
        n, kind=kind.value, mismodelling=mismodelling, rng=rng, first_event=first_event, **extra
    )
    return as_recorded(events, kind=kind.value)


#: extra SeedSequence word of the calorimeter-cell stream (independent of the event stream)
CELL_STREAM = 7


def _check_cells(cells: bool, sample: Sample) -> bool:
    if not isinstance(cells, bool):
        raise ConfigError(f"cells must be True or False, got {cells!r}")
    if cells and sample is not Sample.PHOTONS:
        raise ConfigError(
            f"cells=True is available for sample 'photons' only, got {sample.value!r}"
        )
    return cells


def as_recorded(
    events: dict[str, Any], *, kind: str, layout: PhysliteLayout = PHYSLITE
) -> dict[str, Any]:
    """What the detector records: no truth in data, ``eventTypeBitmask``, no MC channel.

    The simulators keep truth in memory for both kinds (so the data-side
    response can be studied); this is the single place that removes it before
    anything is written. ``EventInfo.eventTypeBitmask`` has bit 0
    (``IS_SIMULATION``) set for MC, as in xAOD; data carries
    ``mcChannelNumber`` 0.

    Examples
    --------
    >>> import numpy as np
    >>> from decorr_af.data.photons import simulate_photons
    >>> ev = as_recorded(simulate_photons(5, kind="data", rng=np.random.default_rng(0)), kind="data")
    >>> "truth_e" in ev["AnalysisPhotons"].fields, int(ev["EventInfo"]["eventTypeBitmask"][0])
    (False, 0)
    """
    out: dict[str, Any] = {}
    data = kind == Kind.DATA.value
    event_info = layout.container(layout.event_collection)
    truth = layout.truth_fields
    for name, val in events.items():
        if name == event_info:
            info = dict(val)
            n = len(info["eventNumber"])
            info[layout.bitmask_field] = layout.bitmask(n, simulation=not data)
            if data:
                info["mcChannelNumber"] = np.zeros(n, dtype=np.uint32)
            out[name] = info
        elif data and any(f in val.fields for f in truth):
            out[name] = val[[f for f in val.fields if f not in truth]]
        else:
            out[name] = val
    return out


def _compression(uproot: Any) -> Any:
    """LZ4 (fast, what ATLAS uses for many outputs) when lz4/xxhash exist, else ZLIB(1)."""
    try:
        import lz4.frame  # noqa: F401
        import xxhash  # noqa: F401
    except ImportError:
        return uproot.ZLIB(1)
    return uproot.LZ4(1)


def _to_branches(events: dict[str, Any], layout: PhysliteLayout = PHYSLITE) -> dict[str, ak.Array]:
    """Containers -> uproot branch groups (``<Container>AuxDyn``; the weight vector alone)."""
    event_info = layout.container(layout.event_collection)
    info = dict(events[event_info])
    weights = info.pop("mcEventWeights")
    out = {
        layout.aux(event_info): ak.zip(info, depth_limit=1),
        layout.container_branch(event_info, "mcEventWeights"): weights,
    }
    for name, arr in events.items():
        if name != event_info:
            out[layout.aux(name)] = arr
    return out


def iter_chunks(
    *,
    sample: str = "photons",
    kind: str = "mc",
    events: int,
    file_index: int = 0,
    seed: int = 0,
    mismodelling: float = 0.0,
    chunk_size: int = 100_000,
    first_event: int = 0,
    cells: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield the in-memory events of one file chunk by chunk (see module docs).

    ``cells=True`` (photons only) adds the ``AnalysisPhotonCells`` collection
    (:mod:`decorr_af.data.cells`), drawn from the block's extra stream
    ``SeedSequence([seed, sample, kind, i, b, CELL_STREAM])``.

    Examples
    --------
    >>> chunks = list(iter_chunks(events=5000, chunk_size=4096))
    >>> [len(c["AnalysisPhotons"]) for c in chunks]
    [4096, 904]
    """
    s = _choice(Sample, sample, "sample")
    k = _choice(Kind, kind, "kind")
    cells = _check_cells(cells, s)
    per_chunk = max(1, math.ceil(chunk_size / BLOCK_EVENTS))
    n_blocks = math.ceil(events / BLOCK_EVENTS)
    for start in range(0, n_blocks, per_chunk):
        parts = []
        for b in range(start, min(start + per_chunk, n_blocks)):
            n = min(BLOCK_EVENTS, events - b * BLOCK_EVENTS)
            words = [seed, _SAMPLE_CODE[s], _KIND_CODE[k], file_index, b]
            ss = np.random.SeedSequence(words)
            crng = np.random.default_rng(np.random.SeedSequence([*words, CELL_STREAM]))
            parts.append(
                _simulate(
                    s,
                    n,
                    kind=k,
                    mismodelling=mismodelling,
                    rng=np.random.default_rng(ss),
                    first_event=first_event + b * BLOCK_EVENTS,
                    cell_rng=crng if cells else None,
                )
            )
        if len(parts) == 1:
            yield parts[0]
            continue
        merged: dict[str, Any] = {}
        for key, val in parts[0].items():
            if isinstance(val, dict):
                merged[key] = {
                    f: (ak.concatenate if isinstance(v, ak.Array) else np.concatenate)(
                        [p[key][f] for p in parts]
                    )
                    for f, v in val.items()
                }
            else:
                merged[key] = ak.concatenate([p[key] for p in parts])
        yield merged


def generate(
    out_dir: str | os.PathLike[str],
    *,
    sample: str = "photons",
    kind: str = "mc",
    events: int,
    files: int = 1,
    seed: int = 0,
    mismodelling: float = 0.0,
    chunk_size: int = 100_000,
    progress: bool = False,
    cells: bool = False,
) -> list[Path]:
    """Generate a toy sample and write ``out_dir/{sample}_{kind}_{i:03d}.root``.

    Parameters
    ----------
    out_dir
        Output directory (created if needed).
    sample
        ``"photons"`` (1-3 prompt or fake photon candidates per event),
        ``"diphoton"`` (ttH(γγ) signal + continuum γγ), ``"zee"`` (Z→ee plus a
        non-resonant ee continuum, :mod:`~decorr_af.data.electrons`) or
        ``"zmumug"`` (Z→μμγ FSR plus Z(→μμ)+jets with a fake photon candidate,
        :mod:`~decorr_af.data.radiative_z`).
    kind
        ``"mc"`` or ``"data"`` (the detector of
        :class:`~decorr_af.data.calo.Conditions` with ``mismodelling``, an
        independent random stream, no truth branches).
    events
        Total number of events, split as evenly as possible over ``files``.
    files
        Number of output files (1 <= files <= events).
    seed
        Non-negative integer seed; output is deterministic for a given
        (seed, sample, kind, events, files).
    mismodelling
        Strength (>= 0) of the physical data/MC detector differences
        (material, lateral shower spread, pile-up, isolation, fake composition;
        0 = data identical in physics to MC); only used for ``kind="data"``.
    chunk_size
        Events generated and written per ``tree.extend`` (rounded up to
        multiples of :data:`BLOCK_EVENTS`); bounds the memory use.
    progress
        Show a tqdm progress bar.
    cells
        Photons only: also write every candidate's calorimeter cells
        (``AnalysisPhotonCellsAuxDyn.{photonIndex, layer, eta, phi, e, t}``,
        e in MeV, t in ns) and compute its cluster energy, layer energies and
        shower shapes from them (:mod:`decorr_af.data.cells`); files without
        cells are unchanged.

    Returns
    -------
    list of Path
        The files written, in order.

    Examples
    --------
    >>> import tempfile
    >>> paths = generate(tempfile.mkdtemp(), sample="photons", kind="mc", events=100)
    >>> paths[0].name
    'photons_mc_000.root'
    """
    s = _choice(Sample, sample, "sample")
    k = _choice(Kind, kind, "kind")
    _check_cells(cells, s)
    events = _integer(events, "events", 1)
    files = _integer(files, "files", 1)
    if files > events:
        raise ConfigError(f"files must be <= events ({events}), got {files}")
    seed = _integer(seed, "seed", 0)
    chunk_size = _integer(chunk_size, "chunk_size", 1)
    if isinstance(mismodelling, bool) or not isinstance(mismodelling, numbers.Real):
        raise ConfigError(f"mismodelling must be a number, got {mismodelling!r}")
    if not math.isfinite(mismodelling) or mismodelling < 0:
        raise ConfigError(f"mismodelling must be finite and >= 0, got {mismodelling!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out_dir {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)

    import uproot

    counts = [events // files + (i < events % files) for i in range(files)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=events, unit="evt", desc=f"{s.value}_{k.value}")
    paths = []
    first = 0
    for i, n in enumerate(counts):
        path = out / f"{s.value}_{k.value}_{i:03d}.root"
        tmp = path.with_name(path.name + ".part")
        with uproot.recreate(tmp, compression=_compression(uproot)) as fout:
            tree = None
            for chunk in iter_chunks(
                sample=s.value,
                kind=k.value,
                events=n,
                file_index=i,
                seed=seed,
                mismodelling=float(mismodelling),
                chunk_size=chunk_size,
                first_event=first,
                cells=cells,
            ):
                branches = _to_branches(chunk)
                if tree is None:
                    tree = fout.mktree(
                        PHYSLITE.tree,
                        {name: arr.type for name, arr in branches.items()},
                        field_name=lambda outer, inner: f"{outer}.{inner}",
                        counter_name=lambda counted: "n" + counted.replace(".", "_"),
                    )
                tree.extend(branches)
                if bar is not None:
                    bar.update(len(branches[PHYSLITE.aux(PHYSLITE.container("EventInfo"))]))
        os.replace(tmp, path)
        paths.append(path)
        first += n
    if bar is not None:
        bar.close()
    return paths
