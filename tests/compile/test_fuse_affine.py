"""The fuse pass folds a per-channel scale and shift of a convolution's output into the
convolution's weight and bias when they are weights (shared variables or constants), as a
batch norm written as arithmetic in an imported model; the values stay the unfused ones."""
import numpy as np
import torch

import theon as th
from theon.codegen.direct_conv import DirectConv
from theon.ops.nn_conv import Conv


def _weights(*shape, seed):
    return th.shared(np.random.default_rng(seed).standard_normal(shape).astype("float32"))


def _reference(xv, layers):
    y = torch.from_numpy(xv)
    for w, s, t, groups in layers:
        y = torch.nn.functional.conv2d(y, torch.from_numpy(w.get_value()), padding=1, groups=groups)
        y = torch.relu(y * torch.from_numpy(s.get_value()) + torch.from_numpy(t.get_value()))
    return y.numpy()


def test_a_chain_of_conv_scale_shift_becomes_convolutions_with_bias():
    x = th.tensor("x", (None, 4, 8, 8))
    layers = [(_weights(6, 4, 3, 3, seed=0), _weights(6, 1, 1, seed=1), _weights(1, 6, 1, 1, seed=2), 1),
              (_weights(6, 1, 3, 3, seed=3), _weights(6, 1, 1, seed=4), _weights(6, 1, 1, seed=5), 6)]
    y = x
    for w, s, t, groups in layers:
        y = th.relu(th.nn.conv2d(y, w, padding=1, groups=groups) * s + t)
    f = th.function([x], y)
    xv = np.random.default_rng(6).standard_normal((2, 4, 8, 8)).astype("float32")
    np.testing.assert_allclose(f(xv), _reference(xv, layers), rtol=1e-5, atol=1e-5)
    main = [n.op.name for n in f.last_program.schedule]
    assert "multiply" not in main and "add" not in main
    # (the fuse_direct_conv pass then takes the depthwise one, with its ReLU)
    convs = [n for n in f.last_program.schedule if isinstance(n.op, (Conv, DirectConv))]
    assert len(convs) == 2 and all(len(n.inputs) == 3 for n in convs)


def test_scales_that_depend_on_the_input_or_mix_channels_are_left_alone():
    x = th.tensor("x", (2, 3, 5, 5))
    w = _weights(4, 3, 3, 3, seed=0)
    conv = th.nn.conv2d(x, w)
    per_pixel = _weights(1, 1, 3, 3, seed=1)   # varies over space, not channels
    f = th.function([x], [conv * x.mean(), conv * per_pixel])
    xv = np.random.default_rng(2).standard_normal((2, 3, 5, 5)).astype("float32")
    ref = torch.nn.functional.conv2d(torch.from_numpy(xv), torch.from_numpy(w.get_value())).numpy()
    a, b = f(xv)
    np.testing.assert_allclose(a, ref * xv.mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, ref * per_pixel.get_value(), rtol=1e-5, atol=1e-6)
    assert sum(n.op.name == "multiply" for n in f.last_program.schedule) == 2


def test_the_folded_weights_stay_trainable():
    x = th.tensor("x", (2, 2, 4, 4))
    w, s = _weights(3, 2, 3, 3, seed=0), _weights(3, 1, 1, seed=1)
    loss = (th.nn.conv2d(x, w, padding=1) * s).sum()
    gw, gs = th.function([x], th.grad(loss, [w, s]))(np.ones((2, 2, 4, 4), "float32"))
    wt = torch.from_numpy(w.get_value()).requires_grad_()
    st = torch.from_numpy(s.get_value()).requires_grad_()
    (torch.nn.functional.conv2d(torch.ones(2, 2, 4, 4), wt, padding=1) * st).sum().backward()
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gs, st.grad.numpy(), rtol=1e-5, atol=1e-5)
