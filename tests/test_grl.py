import pytest
import torch

from dabench.models.grl import grad_reverse


def test_forward_is_identity():
    x = torch.randn(4, 7)
    assert torch.equal(grad_reverse(x, 0.7), x)


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0, 2.5])
def test_gradient_is_minus_lambda_times_plain(lam):
    torch.manual_seed(0)
    w = torch.randn(5, 3)
    x = torch.randn(4, 5, requires_grad=True)
    (x @ w).pow(2).sum().backward()
    plain = x.grad.clone()
    x.grad = None
    (grad_reverse(x, lam) @ w).pow(2).sum().backward()
    assert torch.allclose(x.grad, -lam * plain, atol=1e-6)


def test_lambda_is_per_call_not_state():
    x = torch.ones(3, requires_grad=True)
    grad_reverse(x, 2.0).sum().backward()
    first = x.grad.clone()
    x.grad = None
    grad_reverse(x, 2.0).sum().backward()  # a second call must not have advanced anything
    assert torch.equal(first, x.grad)
    assert torch.equal(first, torch.full((3,), -2.0))
