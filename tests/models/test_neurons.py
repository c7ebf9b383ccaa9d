import pytest
import torch

from spikecodec.models.layers import NeuronSpec, TDBatchNorm2d
from spikecodec.models.neurons import MultiStepLIF


def test_lif_hard_reset_matches_hand_computed_trace():
    # V0 = .3; V1 = .25*.3 + .3 = .375; V2 = .25*.375 + .6 = .69375 -> spike; V3 = 0 + .1
    lif = MultiStepLIF(tau=0.25, v_th=0.5)
    x = torch.tensor([0.3, 0.3, 0.6, 0.1]).view(4, 1)
    assert lif(x).flatten().tolist() == [0.0, 0.0, 1.0, 0.0]


def test_lif_without_reset_would_fire_again():
    # Same input with a large tau: hard reset is what stops the second spike at t=3.
    lif = MultiStepLIF(tau=1.0, v_th=0.5)
    x = torch.tensor([0.6, 0.1]).view(2, 1)
    assert lif(x).flatten().tolist() == [1.0, 0.0]


@pytest.mark.parametrize("width, x, grad", [(0.5, 0.7, 1.0), (0.5, 1.2, 0.0), (0.25, 0.6, 2.0)])
def test_rectangular_surrogate_gradient(width, x, grad):
    lif = MultiStepLIF(v_th=0.5, surrogate_width=width)
    inp = torch.tensor([[x]], requires_grad=True)
    lif(inp).sum().backward()
    assert inp.grad.item() == pytest.approx(grad)


def test_spikes_are_binary_and_params_in_state_dict():
    lif = MultiStepLIF(tau=0.5, v_th=0.3)
    out = lif(torch.randn(4, 8, 3, 5, 5))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    state = lif.state_dict()
    assert state["tau"].item() == 0.5 and state["v_th"].item() == pytest.approx(0.3)
    restored = MultiStepLIF()
    restored.load_state_dict(state)
    assert restored.v_th.item() == pytest.approx(0.3)


def test_tdbn_normalises_over_time_and_batch_and_scales_by_threshold():
    spec = NeuronSpec(v_th=0.5)
    bn = spec.norm(3, alpha=1.0)
    assert isinstance(bn, TDBatchNorm2d)
    assert torch.allclose(bn.weight, torch.full((3,), 0.5))
    x = torch.randn(4, 6, 3, 5, 5) * 3 + 2
    y = bn(x)
    mean = x.mean(dim=(0, 1, 3, 4)).view(1, 1, 3, 1, 1)
    var = x.var(dim=(0, 1, 3, 4), unbiased=False).view(1, 1, 3, 1, 1)
    assert torch.allclose(y, 0.5 * (x - mean) / torch.sqrt(var + bn.eps), atol=1e-5)


def test_ann_spec_uses_relu_and_unit_bn():
    spec = NeuronSpec(spiking=False)
    assert isinstance(spec.activation(), torch.nn.ReLU)
    assert torch.allclose(spec.norm(2).weight, torch.ones(2))
