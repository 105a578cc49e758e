"""The device path: exact fp32 NCHW on the CPU (always tested); bf16 + channels_last on CUDA
(tests marked `gpu`, skipped without a GPU; `bash benchmarks/gpu_check.sh` runs them)."""

from __future__ import annotations

import math

import pytest
import torch

from dabench.config import resolve
from dabench.device import DevicePath
from dabench.methods import RevGrad
from dabench.models.build import build_network
from dabench.tasks import load_catalog

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def office_cfg(device: str):
    task = load_catalog().task("office31-a-to-w")
    return resolve(task, "revgrad", 0, {"backbone.name": "resnet18", "backbone.weights": "none",
                                        "device": device})


def test_cpu_path_is_fp32_nchw_without_autocast():
    cfg = office_cfg("cpu")
    path = DevicePath.for_run(torch.device("cpu"), cfg)
    assert (path.amp, path.channels_last) == (False, False)
    x = path.put(torch.randn(2, 3, 32, 32))
    assert x.dtype == torch.float32 and x.is_contiguous()
    net = path.prepare(build_network(31, cfg))
    with path.autocast():
        out = net(x)
    assert out.dtype == torch.float32


@pytest.mark.gpu
@cuda
def test_cuda_path_uses_bf16_and_channels_last():
    cfg = office_cfg("cuda")
    path = DevicePath.for_run(torch.device("cuda"), cfg)
    assert (path.amp, path.channels_last) == (True, True)
    x = path.put(torch.randn(4, 3, 64, 64))
    assert x.is_cuda and x.is_contiguous(memory_format=torch.channels_last)
    net = path.prepare(build_network(31, cfg))
    with path.autocast():
        assert net(x).dtype == torch.bfloat16


@pytest.mark.gpu
@cuda
def test_revgrad_step_on_cuda_gives_finite_losses_and_moves_weights():
    cfg = office_cfg("cuda")
    path = DevicePath.for_run(torch.device("cuda"), cfg)
    method = RevGrad(path.prepare(build_network(31, cfg)), cfg)
    method.autocast = path.autocast
    before = next(method.net.backbone.parameters()).detach().clone()
    xs, xt = path.put(torch.randn(8, 3, 64, 64)), path.put(torch.randn(8, 3, 64, 64))
    ys = torch.randint(0, 31, (8,), device="cuda")
    terms = method.update((xs, ys), (xt, torch.full_like(ys, -1)), 0.5)
    assert all(math.isfinite(float(v)) for v in terms.values())
    assert set(terms) == {"cls", "domain_feature", "loss"}
    assert not torch.equal(before, next(method.net.backbone.parameters()).detach())


def test_compile_setting_compiles_the_backbone_in_place(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: calls.append(self))
    cfg = office_cfg("cpu")
    net = build_network(31, cfg)
    DevicePath(torch.device("cpu"), False, False, compile=True).prepare(net)
    assert calls == [net.backbone]
    keys = set(net.state_dict())
    assert not any("_orig_mod" in k for k in keys)
