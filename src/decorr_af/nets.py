"""Plain ``torch.nn.Module`` networks (no training logic here, see ``training.py``).

* :class:`MLP` - the fully connected network of the estimators.
* :class:`GaussianMixtureAdversary` - predicts a mixture density p(z | s) of
  continuous protected variables from the model output (Louppe, Kagan, Cranmer).
* :class:`ClassifierAdversary` - predicts class logits of a discrete protected
  variable (or of the MC/data domain) from the model output.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import torch
from torch import nn

from decorr_af.errors import ConfigError

__all__ = [
    "MLP",
    "Activation",
    "ClassifierAdversary",
    "GaussianMixtureAdversary",
    "check_hidden",
    "make_activation",
]


class Activation(str, enum.Enum):
    """Hidden-layer activations."""

    RELU = "relu"
    ELU = "elu"
    GELU = "gelu"
    SILU = "silu"
    TANH = "tanh"
    LEAKY_RELU = "leaky_relu"


_ACTIVATIONS: dict[Activation, type[nn.Module]] = {
    Activation.RELU: nn.ReLU,
    Activation.ELU: nn.ELU,
    Activation.GELU: nn.GELU,
    Activation.SILU: nn.SiLU,
    Activation.TANH: nn.Tanh,
    Activation.LEAKY_RELU: nn.LeakyReLU,
}


def make_activation(name: str | Activation) -> nn.Module:
    """Instantiate an activation by name (``"relu"``, ``"elu"``, ``"gelu"``, ...)."""
    try:
        return _ACTIVATIONS[Activation(name)]()
    except ValueError:
        choices = ", ".join(a.value for a in Activation)
        msg = f"activation={name!r} is not one of {choices}"
        raise ConfigError(msg) from None


def check_hidden(hidden: Sequence[int], name: str = "hidden") -> tuple[int, ...]:
    try:
        sizes = tuple(int(h) for h in hidden)
    except TypeError:
        msg = f"{name}={hidden!r} must be a sequence of positive layer widths"
        raise ConfigError(msg) from None
    if any(h <= 0 for h in sizes):
        msg = f"{name}={hidden!r} must contain positive layer widths"
        raise ConfigError(msg)
    return sizes


class MLP(nn.Module):
    """Fully connected network ``n_in → hidden... → n_out``.

    Parameters
    ----------
    n_in, n_out
        Input and output widths.
    hidden
        Widths of the hidden layers.
    activation
        Name of the hidden activation (:class:`Activation`).
    dropout
        Dropout probability after each hidden activation (0 disables it).

    Examples
    --------
    >>> net = MLP(4, 1, hidden=(8,))
    >>> net(torch.zeros(3, 4)).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        n_in: int,
        n_out: int = 1,
        *,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for h in check_hidden(hidden):
            layers += [nn.Linear(width, h), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_out))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class GaussianMixtureAdversary(nn.Module):
    """Mixture density network p(z_k | s) for ``n_targets`` continuous variables.

    Each target gets an independent mixture of ``n_components`` Gaussians whose
    means, widths and fractions are functions of the model output ``s``.

    Examples
    --------
    >>> adv = GaussianMixtureAdversary(1, n_targets=2, n_components=3, hidden=(8,))
    >>> adv.log_prob(torch.zeros(5, 1), torch.zeros(5, 2)).shape
    torch.Size([5])
    """

    def __init__(
        self,
        n_in: int,
        *,
        n_targets: int = 1,
        n_components: int = 5,
        hidden: Sequence[int] = (32, 32),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.n_targets = n_targets
        self.n_components = n_components
        self.body = MLP(n_in, 3 * n_targets * n_components, hidden=hidden, activation=activation)

    def forward(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(log_fractions, means, log_sigmas)``, each ``(n, n_targets, n_components)``."""
        out = self.body(s).view(-1, self.n_targets, 3, self.n_components)
        log_frac = torch.log_softmax(out[:, :, 0], dim=-1)
        mean = out[:, :, 1]
        log_sigma = out[:, :, 2].clamp(-7.0, 7.0)
        return log_frac, mean, log_sigma

    def log_prob(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Sum over targets of log p(z_k | s), one value per event."""
        log_frac, mean, log_sigma = self(s)
        zz = z.unsqueeze(-1)
        comp = (
            -0.5 * ((zz - mean) * torch.exp(-log_sigma)) ** 2
            - log_sigma
            - 0.5 * math.log(2.0 * math.pi)
        )
        return torch.logsumexp(log_frac + comp, dim=-1).sum(dim=-1)


class ClassifierAdversary(nn.Module):
    """Predicts the logits of ``n_classes`` classes from the model output.

    Examples
    --------
    >>> ClassifierAdversary(1, n_classes=3, hidden=(8,))(torch.zeros(2, 1)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        n_in: int,
        *,
        n_classes: int = 2,
        hidden: Sequence[int] = (32, 32),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.body = MLP(n_in, n_classes, hidden=hidden, activation=activation)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.body(s)
