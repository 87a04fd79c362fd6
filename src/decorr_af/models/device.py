"""Resolve the torch device an estimator runs on."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from decorr_af._compat import optional_import
from decorr_af.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Device", "cuda_available", "resolve_device"]


class Device(str, enum.Enum):
    """Device choices accepted by the estimators."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False when torch is not installed)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an extra
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device: Any = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` (``"cuda:1"``) or a ``torch.device`` into a device.

    Parameters
    ----------
    device
        ``"auto"`` picks CUDA when available, otherwise the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ConfigError
        If the value is not understood or CUDA is requested but not available.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    torch = optional_import("torch", "torch")
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        name = device.strip().lower()
        if name == Device.AUTO.value:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if name.split(":")[0] not in (Device.CPU.value, Device.CUDA.value):
            msg = f"device={device!r} is not one of 'auto', 'cpu', 'cuda' (or 'cuda:N')"
            raise ConfigError(msg)
        resolved = torch.device(name)
    else:
        msg = f"device={device!r} must be a string or a torch.device"
        raise ConfigError(msg)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        msg = f"device={device!r} requested but torch sees no CUDA device"
        raise ConfigError(msg)
    return resolved
