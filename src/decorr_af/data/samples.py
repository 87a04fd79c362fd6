"""Sample descriptions: the toy's processes, their ``mcChannelNumber`` and which are signal.

Analysis labels (such as the diphoton table's ``is_signal``) come from here, as
parameters of the tables and workflows, never from the readers: a reader only
knows branch naming (:class:`~decorr_af.data.layout.PhysliteLayout`).

Examples
--------
>>> signal_dsids("diphoton")
(346525,)
>>> DIPHOTON_CHANNELS["ttH_yy"] in signal_dsids("diphoton")
True
"""

from __future__ import annotations

from decorr_af.errors import ConfigError

__all__ = [
    "DIPHOTON_CHANNELS",
    "SIGNAL_PROCESSES",
    "ZEE_CHANNELS",
    "ZMUMUG_CHANNELS",
    "signal_dsids",
]

#: mcChannelNumber of the diphoton toy processes
DIPHOTON_CHANNELS = {
    "ttH_yy": 346525,
    "ttyy": 346526,
    "yy_continuum": 364352,
    "gamma_jet": 364353,
}
#: mcChannelNumber of the Z->ee toy processes (Powheg Z->ee-like id; continuum ee)
ZEE_CHANNELS = {"Zee": 361106, "ee_continuum": 361666}
#: mcChannelNumber of the radiative-Z toy processes (Z->mumu gamma FSR; Z(->mumu)+jets)
ZMUMUG_CHANNELS = {"Zmumugamma": 700771, "Zmumu_jets": 700323}

#: sample -> (process table, the processes that are signal)
SIGNAL_PROCESSES: dict[str, tuple[dict[str, int], tuple[str, ...]]] = {
    "diphoton": (DIPHOTON_CHANNELS, ("ttH_yy",)),
}


def signal_dsids(sample: str = "diphoton") -> tuple[int, ...]:
    """``mcChannelNumber`` values of the signal processes of a toy sample.

    Raises
    ------
    ConfigError
        When ``sample`` has no signal definition.
    """
    if sample not in SIGNAL_PROCESSES:
        raise ConfigError(
            f"sample={sample!r} has no signal processes; choose from {sorted(SIGNAL_PROCESSES)}"
        )
    table, names = SIGNAL_PROCESSES[sample]
    return tuple(table[name] for name in names)
