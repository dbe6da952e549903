"""The reference networks, batched over a population of K individuals.

One policy object acts for K individuals at once: every tensor carries a leading
population axis ``[K, ...]`` and every layer is one batched matrix product, so the per-step
cost of the network is amortised over the population. The architectures are the paper's,
as its code builds them:

* ant: 28 -> 128 -> 64 -> 8, tanh on every layer, no biases;
* car: an evolved conv front end (conv 3->6 3x3, tanh, maxpool 2; conv 6->8 5x5 stride 2,
  tanh, maxpool 2; 648 features), then 648 -> 128 -> 64 -> 3 (tanh, tanh, raw) and the
  action mapping ``[tanh, sigmoid, sigmoid]`` = steer, gas, brake;
* static: evolved weights; LSTM: the first dense layer replaced by an LSTM cell (with its
  two bias vectors, state zeroed at each episode start); Hebbian: the same synapses with
  per-synapse ABCD rules, weights drawn U(-0.1, 0.1) at each episode start and updated after
  each layer's forward pass; the car's Hebbian layers are rescaled to max|W| = 1 after
  every update.

A network output that is not finite (a diverged Hebbian net) is sent to the env as 0, so a
policy never hands an env an invalid action.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from hebbbench.agents.layout import ParamLayout
from hebbbench.agents.normalization import ObservationNormalizer
from hebbbench.envs import get_task
from hebbbench.es.penalty import coefficient_penalty

#: Car frames are resized from 96x96 to this side length (area interpolation).
CAR_INPUT_SIDE = 84
#: Hebbian weights are drawn from U(-HEBBIAN_INIT, HEBBIAN_INIT) at each episode start.
HEBBIAN_INIT = 0.1
LSTM_HIDDEN = 128

_CONV_SHAPES = (("conv.1", (6, 3, 3, 3)), ("conv.2", (8, 6, 5, 5)))


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _car_action(x: torch.Tensor) -> torch.Tensor:
    """Raw outputs ``[K, 3]`` -> steer in [-1, 1], gas and brake in [0, 1]."""
    return torch.stack([torch.tanh(x[:, 0]), torch.sigmoid(x[:, 1]), torch.sigmoid(x[:, 2])], dim=1)


@dataclass(frozen=True)
class Architecture:
    """Per-task shape of the dense part: ``widths[0]`` inputs, one activation per layer."""

    widths: tuple[int, ...]
    activations: tuple[Callable[[torch.Tensor], torch.Tensor], ...]
    to_action: Callable[[torch.Tensor], torch.Tensor]
    conv_front_end: bool
    normalise_hebbian: bool


ARCHITECTURES = {
    "ant": Architecture((28, 128, 64, 8), (torch.tanh,) * 3, _identity, False, False),
    "car": Architecture((648, 128, 64, 3), (torch.tanh, torch.tanh, _identity), _car_action, True, True),
}


def architecture(task: str) -> Architecture:
    """The reference architecture of ``task``; ``ValueError`` naming the allowed tasks otherwise."""
    get_task(task)
    return ARCHITECTURES[task]


def _check_agent(agent: str) -> None:
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; allowed agents: {', '.join(AGENTS)}")


def param_layout(agent: str, task: str) -> ParamLayout:
    """Names and shapes of the evolved parameters of ``agent`` on ``task``, in vector order:
    the car's conv front end, then the agent family's own tensors (``layout_shapes``)."""
    _check_agent(agent)
    arch = architecture(task)
    shapes = list(_CONV_SHAPES) if arch.conv_front_end else []
    return ParamLayout(tuple(shapes + POLICIES[agent].layout_shapes(arch)))


def parameter_count(agent: str, task: str) -> int:
    """Number of evolved parameters: ant 12,288 / 89,600 / 61,440 and car 92,690 / 408,082 /
    458,002 for static / lstm / hebbian."""
    return param_layout(agent, task).size


#: How an ES mean starts (:func:`initial_parameters`).
INIT_SCHEMES = ("normal", "fan-in")


def initial_parameters(agent: str, task: str, scheme: str, std: float, generator: torch.Generator) -> torch.Tensor:
    """A starting parameter vector ``[D]`` (float32) for ``agent`` on ``task``.

    ``"normal"``: every parameter from N(0, std^2), the paper's (std 1.0). ``"fan-in"``:
    each weight from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default init of
    ``nn.Linear``/``nn.Conv2d`` (fan_in: a unit's inputs; the LSTM cell's tensors use
    1/sqrt(128), as ``nn.LSTMCell``), which is where Najarro & Risi's static-network code
    started its ES mean; Hebbian rule coefficients are not weights and stay N(0, std^2).
    Drawn from ``generator`` alone, in the parameter vector's order."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; allowed: {', '.join(INIT_SCHEMES)}")
    layout = param_layout(agent, task)
    if scheme == "normal":
        return std * torch.randn(layout.size, generator=generator)
    parts = []
    for name, shape in layout.shapes:
        size = math.prod(shape)
        fan_in = POLICIES[agent].fan_in(name, shape)
        if fan_in is None:  # a rule coefficient, not a weight
            parts.append(std * torch.randn(size, generator=generator))
        else:
            parts.append((torch.rand(size, generator=generator) * 2 - 1) * (1 / math.sqrt(fan_in)))
    return torch.cat(parts)


def hebbian_slice(agent: str, task: str) -> slice | None:
    """The slice of the parameter vector holding Hebbian rule coefficients (``None`` if none).

    The coefficient penalty of the reference (``-0.01 * mean(h**2)``) is taken over it.
    """
    prefix = POLICIES[agent].rule_prefix
    found = [where for name, where in param_layout(agent, task).offsets().items()
             if prefix is not None and name.startswith(prefix)]
    return slice(found[0].start, found[-1].stop) if found else None


@lru_cache(maxsize=None)
def _area_matrix(source: int, target: int, device: str = "cpu") -> torch.Tensor:
    """``[target, source]`` matrix of area interpolation: row i averages the source pixels
    under output pixel i, each weighted by its overlap (OpenCV's INTER_AREA when shrinking)."""
    scale = source / target
    edges = np.arange(target + 1) * scale
    lo, hi = edges[:-1, None], edges[1:, None]
    pixel = np.arange(source)[None, :]
    overlap = np.clip(np.minimum(hi, pixel + 1) - np.maximum(lo, pixel), 0.0, None)
    return torch.as_tensor(overlap / scale, dtype=torch.float32, device=device)


def car_observation(frames: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """``[K, 96, 96, 3]`` uint8 frames -> ``[K, 3, 84, 84]`` float in [0, 1].

    The reference's preprocessing: an area resize to an 84x84 uint8 image (OpenCV's
    INTER_AREA, whose output is rounded to integers), then /255. Done for all K frames
    at once as two matrix products and a rounding; equal to ``cv2.resize`` (tested).
    On ``device`` (the frames travel as uint8, a quarter of the float bytes).
    """
    device = str(device)
    x = torch.as_tensor(np.asarray(frames)).to(device=device, dtype=torch.float32).permute(0, 3, 1, 2)
    rows = _area_matrix(x.shape[2], CAR_INPUT_SIDE, device)
    cols = _area_matrix(x.shape[3], CAR_INPUT_SIDE, device)
    return torch.round(rows @ x @ cols.T) / 255.0


def _max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """2x2 max pooling with stride 2 over the last two dims (an odd last row/column is dropped).

    The same values as ``F.max_pool2d(x, 2)`` (a max is exact), from two element-wise
    maxima of strided views, which avoids torch's slow CPU pooling kernel on these shapes
    (``benchmarks/test_hebbian_step.py`` times the front end against the textbook one).
    """
    x = x[..., : x.shape[-2] // 2 * 2, : x.shape[-1] // 2 * 2]
    rows = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def conv_features(x: torch.Tensor, conv1: torch.Tensor, conv2: torch.Tensor) -> torch.Tensor:
    """The car's front end for K individuals at once, as grouped convolutions.

    ``x`` ``[K, 3, 84, 84]``; ``conv1`` ``[K, 6, 3, 3, 3]``; ``conv2`` ``[K, 8, 6, 5, 5]``;
    returns ``[K, 648]``. Each stage is conv -> tanh -> 2x2 max pool; the pool runs before
    the tanh, which gives the same values (tanh is increasing) with a quarter of the tanh work.

    oneDNN (mkldnn) is switched off for these calls: with it, K = 1 (one group) takes a
    different convolution kernel than K > 1 and an individual's features would depend on
    how many others share its batch (~6e-6 apart, enough to change a Hebbian car's
    actions), so results would change with the worker count. Without it every K gives the
    same numbers.
    """
    k = x.shape[0]
    mkldnn = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        h = x.reshape(1, k * 3, *x.shape[2:])
        h = torch.tanh(_max_pool_2x2(F.conv2d(h, conv1.reshape(-1, *conv1.shape[2:]), groups=k)))
        h = torch.tanh(_max_pool_2x2(F.conv2d(h, conv2.reshape(-1, *conv2.shape[2:]), stride=2, groups=k)))
    finally:
        torch.backends.mkldnn.enabled = mkldnn
    return h.reshape(k, -1)


class BatchedPolicy:
    """Acts for K individuals at once; subclasses define the dense part.

    ``population``: ``[K, D]`` float parameters laid out by :func:`param_layout`.
    Call :meth:`reset` with K seeds at each episode start, then :meth:`act` with the K
    observations of each step. ``device``: where the network's tensors live and its
    arithmetic runs (``"cpu"``, ``"cuda"``, ...); observations come in and actions go out
    as NumPy arrays on the CPU whatever the device. ``normalizer``: a transform of vector
    observations applied before the first layer (observation normalisation; ``None``: none).
    """

    agent = ""
    #: The name prefix of the tensors that hold learning-rule coefficients (``None``: none);
    #: the Hebbian family's :meth:`fitness_penalty` is taken over them (:func:`hebbian_slice`).
    rule_prefix: str | None = None
    #: Whether :meth:`observe` uses the rewards (a policy that learns from reward within an
    #: episode); the reference networks do not, so evaluation skips the call for them.
    uses_reward = False

    def __init__(self, task: str, population: torch.Tensor, device: str | torch.device = "cpu",
                 normalizer: ObservationNormalizer | None = None) -> None:
        self.task = task
        self.normalizer = normalizer
        self.arch = architecture(task)
        self.device = torch.device(device)
        self._normalise = None if normalizer is None else normalizer.on(self.device)
        population = torch.as_tensor(population, dtype=torch.float32).to(self.device)
        self.params = {k: v.contiguous() for k, v in param_layout(self.agent, task).split(population).items()}
        self.size = population.shape[0]

    def reset(self, seeds: Sequence[int]) -> None:
        """Start an episode for each individual; ``seeds`` (K ints) fix any random state."""
        if len(seeds) != self.size:
            raise ValueError(f"expected {self.size} seeds, got {len(seeds)}")

    @torch.no_grad()
    def act(self, observations: np.ndarray) -> np.ndarray:
        """K observations (``[K, 28]`` ant states or ``[K, 96, 96, 3]`` car frames) ->
        ``[K, action_dim]`` float32 actions within the env's bounds."""
        if self.arch.conv_front_end:
            x = conv_features(car_observation(observations, self.device), self.params["conv.1"],
                              self.params["conv.2"])
        else:
            x = torch.as_tensor(np.asarray(observations), dtype=torch.float32).to(self.device)
            if self._normalise is not None:
                x = self._normalise(x)
        action = self.arch.to_action(self._dense(x))
        return torch.nan_to_num(action, nan=0.0, posinf=0.0, neginf=0.0).cpu().numpy()

    def observe(self, rewards: np.ndarray, done: np.ndarray) -> None:
        """What the K actions of the last :meth:`act` brought: ``rewards`` ``[K]`` float64
        (0 for an individual whose episode had already ended) and ``done`` ``[K]`` bool
        (its episode is over, at this step or before). The batched counterpart of an agent's
        ``observe(reward, terminated, truncated)``; the reference networks ignore it."""

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def fitness_penalty(cls, population: torch.Tensor, task: str) -> torch.Tensor:
        """``[K]`` float64 added to each individual's training fitness for a ``[K, D]``
        population on ``task`` (a penalty: <= 0); zeros, unless a family says otherwise."""
        return torch.zeros(population.shape[0], dtype=torch.float64)

    @classmethod
    def layout_shapes(cls, arch: Architecture) -> list[tuple[str, tuple[int, ...]]]:
        """The family's evolved tensors after any conv front end: (name, shape) in vector order."""
        raise NotImplementedError

    @classmethod
    def fan_in(cls, name: str, shape: tuple[int, ...]) -> int | None:
        """The inputs of one unit of tensor ``name`` (the fan-in init's scale), or ``None``
        for a tensor of rule coefficients (drawn N(0, std^2) instead)."""
        if cls.rule_prefix is not None and name.startswith(cls.rule_prefix):
            return None
        if name.startswith("conv."):  # [out, in, kh, kw]
            return math.prod(shape[1:])
        return shape[0]  # dense [in, out]


def max_abs(weight: torch.Tensor) -> torch.Tensor:
    """``max |W|`` of each individual's layer, ``[K, n_in, n_out] -> [K, 1, 1]``: the larger
    of ``max W`` and ``-min W``, the same value as ``W.abs().amax(...)`` without writing
    ``|W|`` out first (one memory pass fewer; benchmarks/test_hebbian_step.py times both)."""
    return torch.maximum(weight.amax(dim=(1, 2), keepdim=True), weight.amin(dim=(1, 2), keepdim=True).neg_())


def _layer(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``[K, n_in] x [K, n_in, n_out] -> [K, n_out]``, one matrix product per individual."""
    return torch.bmm(x.unsqueeze(1), weight).squeeze(1)


class StaticPolicy(BatchedPolicy):
    """Evolved weights, fixed during the episode."""

    agent = "static"

    @classmethod
    def layout_shapes(cls, arch: Architecture) -> list[tuple[str, tuple[int, ...]]]:
        return [(f"dense.{i}", pair) for i, pair in enumerate(zip(arch.widths[:-1], arch.widths[1:]), 1)]

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        for i, act in enumerate(self.arch.activations, 1):
            x = act(_layer(x, self.params[f"dense.{i}"]))
        return x


class LSTMPolicy(BatchedPolicy):
    """An LSTM cell (gates i, f, g, o; state zeroed at reset) followed by the dense layers 2 and 3."""

    agent = "lstm"

    @classmethod
    def layout_shapes(cls, arch: Architecture) -> list[tuple[str, tuple[int, ...]]]:
        gates = 4 * LSTM_HIDDEN
        rest = [(LSTM_HIDDEN, arch.widths[2])] + list(zip(arch.widths[2:-1], arch.widths[3:]))
        return [("lstm.weight_ih", (arch.widths[0], gates)), ("lstm.weight_hh", (LSTM_HIDDEN, gates)),
                ("lstm.bias_ih", (gates,)), ("lstm.bias_hh", (gates,))] + \
            [(f"dense.{i}", pair) for i, pair in enumerate(rest, 2)]

    @classmethod
    def fan_in(cls, name: str, shape: tuple[int, ...]) -> int | None:
        return LSTM_HIDDEN if name.startswith("lstm.") else super().fan_in(name, shape)  # as nn.LSTMCell

    def reset(self, seeds: Sequence[int]) -> None:
        super().reset(seeds)
        self.hidden = torch.zeros(self.size, LSTM_HIDDEN, device=self.device)
        self.cell = torch.zeros(self.size, LSTM_HIDDEN, device=self.device)

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        p = self.params
        gates = _layer(x, p["lstm.weight_ih"]) + _layer(self.hidden, p["lstm.weight_hh"])
        gates = gates + p["lstm.bias_ih"] + p["lstm.bias_hh"]
        i, f, g, o = gates.chunk(4, dim=1)
        self.cell = torch.sigmoid(f) * self.cell + torch.sigmoid(i) * torch.tanh(g)
        self.hidden = torch.sigmoid(o) * torch.tanh(self.cell)
        x = self.hidden
        for i, act in enumerate(self.arch.activations[1:], 2):
            x = act(_layer(x, p[f"dense.{i}"]))
        return x


class HebbianPolicy(BatchedPolicy):
    """Random weights that learn within the episode by per-synapse ABCD rules.

    For each layer: ``post = act(pre @ W)``, then
    ``W += eta * (A * pre post^T + B * pre + C * post + D)``; on the car each layer is then
    divided by its max |W|. The products ``eta*A .. eta*D`` are formed once per policy.
    """

    agent = "hebbian"
    rule_prefix = "hebb."

    @classmethod
    def layout_shapes(cls, arch: Architecture) -> list[tuple[str, tuple[int, ...]]]:
        return [(f"hebb.{i}", (*pair, 5)) for i, pair in enumerate(zip(arch.widths[:-1], arch.widths[1:]), 1)]

    @classmethod
    def fitness_penalty(cls, population: torch.Tensor, task: str) -> torch.Tensor:
        """The reference's coefficient penalty, ``-0.01 * mean(h**2)`` over the rule
        coefficients (:func:`hebbbench.es.penalty.coefficient_penalty`): it keeps them small."""
        return coefficient_penalty(population, hebbian_slice(cls.agent, task))

    def __init__(self, task: str, population: torch.Tensor, device: str | torch.device = "cpu",
                 normalizer: ObservationNormalizer | None = None) -> None:
        super().__init__(task, population, device, normalizer)
        self.rules = []
        for i in range(1, len(self.arch.activations) + 1):
            h = self.params[f"hebb.{i}"]
            eta = h[..., 0]
            self.rules.append(tuple((eta * h[..., j]).contiguous() for j in range(1, 5)))
        self.weights: list[torch.Tensor] = []

    def reset(self, seeds: Sequence[int]) -> None:
        """Draw every individual's weights U(-0.1, 0.1) from its seed (reproducible; drawn
        on the CPU whatever the device, so every device starts from the same weights)."""
        super().reset(seeds)
        drawn: dict[int, list[torch.Tensor]] = {}
        for seed in set(int(s) for s in seeds):
            generator = torch.Generator().manual_seed(seed)
            drawn[seed] = [
                (torch.rand(rule[0].shape[1:], generator=generator) * 2 - 1) * HEBBIAN_INIT for rule in self.rules
            ]
        self.weights = [torch.stack([drawn[int(s)][i] for s in seeds]).to(self.device)
                        for i in range(len(self.rules))]
        self._scratch = [torch.empty_like(weight) for weight in self.weights]

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        layers = zip(self.weights, self._scratch, self.rules, self.arch.activations)
        for weight, scratch, (eta_a, eta_b, eta_c, eta_d), act in layers:
            post = act(_layer(x, weight))
            pre_col, post_row = x.unsqueeze(2), post.unsqueeze(1)
            # dW = pre * (eta A post + eta B) + (eta C post + eta D): four passes over
            # [K, n_in, n_out] into a reused buffer (the step is memory-bound).
            torch.addcmul(eta_b, eta_a, post_row, out=scratch)
            weight.addcmul_(scratch, pre_col)
            torch.addcmul(eta_d, eta_c, post_row, out=scratch)
            weight.add_(scratch)
            if self.arch.normalise_hebbian:
                weight.div_(max_abs(weight))
            x = post
        return x


from hebbbench.agents.modulated import ModulatedHebbianPolicy  # noqa: E402 (it subclasses HebbianPolicy)

#: Agent families by name: a new family is one :class:`BatchedPolicy` subclass (its
#: ``layout_shapes``, ``_dense`` and, if it needs them, ``fan_in``, ``rule_prefix``,
#: ``reset``, ``observe`` and ``fitness_penalty``) and one entry here.
POLICIES = {cls.agent: cls for cls in (StaticPolicy, LSTMPolicy, HebbianPolicy, ModulatedHebbianPolicy)}
AGENTS = tuple(POLICIES)


def make_policy(agent: str, task: str, population: torch.Tensor, device: str | torch.device = "cpu",
                normalizer: ObservationNormalizer | None = None) -> BatchedPolicy:
    """The batched policy of ``agent`` on ``task`` for a ``[K, D]`` population, its
    arithmetic on ``device``, its vector observations transformed by ``normalizer`` if given."""
    _check_agent(agent)
    if normalizer is not None and architecture(task).conv_front_end:
        raise ValueError(f"observation normalisation applies to vector observations; {task!r} observes frames")
    return POLICIES[agent](task, population, device, normalizer)
