"""The device path: exact fp32 on the CPU, bf16 autocast on CUDA, channels_last on both.

The `gpu` tests need a CUDA GPU and are skipped elsewhere (with the reason shown by `-ra`);
`bash benchmarks/gpu_check.sh` runs them, with the throughput benchmark, on a GPU machine.
"""

from __future__ import annotations

import math

import pytest
import torch

from dabench.config import RunConfig, resolve
from dabench.training.device import DevicePath
from dabench.methods.revgrad import RevGrad
from dabench.models.build import build_network
from dabench.tasks.catalog import load_catalog

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA GPU visible to PyTorch "
                                "(torch.cuda.is_available() is False); run on a GPU machine "
                                "with: bash benchmarks/gpu_check.sh")


def office_cfg(**extra) -> RunConfig:
    """The Office-31 A->W RevGrad config with a small random-weight backbone (no download)."""
    task = load_catalog().task("office31-a-to-w")
    return resolve(task, "revgrad", 0, {"backbone.name": "resnet18", "backbone.weights": "none",
                                        **extra})


def test_device_path_on_cpu_is_exact_fp32_with_channels_last_as_configured():
    cfg = RunConfig()
    assert cfg.amp and cfg.channels_last  # autocast applies on CUDA only; NHWC on both
    path = DevicePath.for_run(torch.device("cpu"), cfg)
    assert not path.amp and path.channels_last
    x = torch.randn(4, 3, 32, 32)
    y = path.put(x)
    assert y.dtype == torch.float32 and y.device.type == "cpu"
    assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
    assert torch.equal(y, x)  # same values, other layout
    net = path.prepare(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(),
                                           torch.nn.Linear(8 * 30 * 30, 2)))
    with path.autocast():
        assert not torch.is_autocast_enabled("cpu")
        out = net(y)
        mm = torch.randn(8, 8) @ torch.randn(8, 8)
    assert out.dtype == torch.float32 and mm.dtype == torch.float32
    conv = net[0].weight
    assert conv.dtype == torch.float32 and conv.is_contiguous(memory_format=torch.channels_last)
    # Same function as the NCHW network, to fp32 rounding.
    ref = torch.nn.functional.conv2d(x, conv.contiguous(), net[0].bias)
    assert torch.allclose(net[0](y), ref, atol=1e-5)


def test_device_path_on_cpu_with_channels_last_off_stays_contiguous_nchw():
    cfg = resolve(load_catalog().task("mnist5k-to-mnistm5k"), "revgrad", 0, {"channels_last": "false"})
    path = DevicePath.for_run(torch.device("cpu"), cfg)
    assert not path.amp and not path.channels_last
    y = path.put(torch.randn(4, 3, 28, 28))
    assert y.is_contiguous() and not y.is_contiguous(memory_format=torch.channels_last)
    net = path.prepare(torch.nn.Conv2d(3, 8, 3))
    assert net.weight.is_contiguous() and not net.weight.is_contiguous(
        memory_format=torch.channels_last)


def _revgrad_on_cuda(**extra) -> tuple[RevGrad, DevicePath]:
    cfg = office_cfg(**extra)
    path = DevicePath.for_run(torch.device("cuda"), cfg)
    method = RevGrad(path.prepare(build_network(31, cfg)), cfg)
    method.autocast = path.autocast  # as dabench.training.loop.run does
    return method, path


@pytest.mark.gpu
@needs_cuda
def test_cuda_path_is_bf16_autocast_and_channels_last_with_finite_losses():
    method, path = _revgrad_on_cuda()
    assert path.amp and path.channels_last
    w = method.net.backbone.conv1.weight
    assert w.is_contiguous(memory_format=torch.channels_last) and w.dtype == torch.float32
    x = path.put(torch.randn(8, 3, 112, 112), train=True)
    assert x.is_cuda and x.is_contiguous(memory_format=torch.channels_last)
    with path.autocast():
        feats = method.net.features(x)["feature"]
        assert feats.dtype == torch.bfloat16  # the forward runs in bf16
    terms = method.update((x[:4], path.put(torch.randint(0, 31, (4,)))),
                          (x[4:], path.put(torch.full((4,), -1))), 0.5)
    assert set(terms) == {"cls", "domain_feature", "loss"}
    for name, value in terms.items():
        assert math.isfinite(float(value)), name
    assert all(p.dtype == torch.float32 for p in method.net.parameters())  # fp32 master weights
    assert all(torch.isfinite(p).all() for p in method.net.parameters())


@pytest.mark.gpu
@needs_cuda
def test_revgrad_steps_on_cuda_change_the_weights_and_keep_losses_finite():
    torch.manual_seed(0)
    method, path = _revgrad_on_cuda(**{"recipe": "tllib"})  # the recipe with BN domain heads
    before = {k: v.detach().clone() for k, v in method.net.state_dict().items()}
    ys = torch.randint(0, 31, (8,))
    for step in range(3):
        xs = path.put(torch.randn(8, 3, 96, 96), train=True)
        xt = path.put(torch.randn(8, 3, 96, 96) + 0.5, train=True)
        terms = method.update((xs, path.put(ys)), (xt, path.put(torch.full((8,), -1))),
                              lam=0.1 * (step + 1))
        assert all(math.isfinite(float(v)) for v in terms.values())
    torch.cuda.synchronize()
    after = method.net.state_dict()
    changed = [k for k in before if before[k].is_floating_point()
               and not torch.equal(before[k], after[k])]
    assert any(k.startswith("backbone.") for k in changed)
    assert any(k.startswith("domain_heads.") for k in changed)
    assert method.predict(path.put(torch.randn(2, 3, 96, 96))).shape == (2, 31)


@pytest.mark.gpu
@needs_cuda
def test_decoded_image_cache_gives_the_same_batches_on_cuda_and_cpu():
    from dabench.data.images.cache import DecodedImages

    images = torch.randint(0, 256, (16, 3, 40, 40), dtype=torch.uint8)
    for augment in ("dann-paper", "tllib"):
        cpu = DecodedImages.from_tensors(images, torch.zeros(16), crop=32, augment=augment,
                                         seed=2)
        gpu = DecodedImages.from_tensors(images, torch.zeros(16), crop=32, augment=augment,
                                         seed=2, device="cuda")
        assert gpu.images.is_cuda and not gpu.targets.is_cuda
        for train in (True, False):
            a = cpu.device_transform(images, train)
            b = gpu.device_transform(gpu.images, train)
            assert b.is_cuda and b.dtype == torch.float32
            tol = 1e-5 if augment == "dann-paper" or not train else 1e-3
            assert torch.allclose(a, b.cpu(), atol=tol), (augment, train)


@pytest.mark.gpu
@needs_cuda
def test_a_short_training_run_on_cuda(tmp_path):
    """The real loop (`dabench.training.loop.run`) on the embedded digits task, on the GPU."""
    from dabench.training import loop as train

    task = load_catalog().task("mnist5k-to-mnistm5k")
    cfg = resolve(task, "revgrad", 0, {"steps": 6, "batch_size": 32, "eval_every": 3,
                                       "log_every": 2, "eval_batch_size": 500,
                                       "pad_samples": 100, "device": "cuda"})
    out = train.run(task, cfg, tmp_path / "runs")
    assert out.record["device"].startswith("cuda")
    assert 0.0 <= out.record["target_acc_last"] <= 1.0


def test_compile_setting_compiles_the_backbone_in_place(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: calls.append(self))
    cfg = office_cfg()
    net = build_network(31, cfg)
    DevicePath(torch.device("cpu"), False, False, compile=True).prepare(net)
    assert calls == [net.backbone]
    keys = set(net.state_dict())
    assert not any("_orig_mod" in k for k in keys)
