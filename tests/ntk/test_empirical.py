"""Empirical NTK against explicit per-sample autograd Jacobians, every mode and strategy."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from selfdistill.ntk import STRATEGIES, empirical_ntk, ntk_cost  # noqa: E402

TOL = {"rtol": 1e-11, "atol": 1e-12}  # float64: the kernels agree to rounding


def _mlp(outputs: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, outputs)
    ).double()


def _cnn(outputs: int = 3, seed: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 4, 3, stride=2),
        nn.Tanh(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, outputs),
    ).double()


def _inputs(model_name: str, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (n, 5) if model_name == "mlp" else (n, 2, 7, 7)
    return torch.randn(shape, generator=g, dtype=torch.float64)


def _explicit_jacobians(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(n, C, P): one autograd.grad call per input and output, no torch.func."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for xi in x:
        out = model(xi.unsqueeze(0)).reshape(-1)
        per_output = []
        for c in range(out.shape[0]):
            grads = torch.autograd.grad(out[c], params, retain_graph=True)
            per_output.append(torch.cat([g.reshape(-1) for g in grads]))
        rows.append(torch.stack(per_output))
    return torch.stack(rows)


def _explicit_ntk(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    j1, j2 = _explicit_jacobians(model, x1), _explicit_jacobians(model, x2)
    return torch.einsum("aip,bjp->abij", j1, j2)


MODELS = {"mlp": _mlp, "cnn": _cnn}


@pytest.fixture(scope="module", params=["mlp", "cnn"])
def case(request: pytest.FixtureRequest) -> dict:
    name = request.param
    model = MODELS[name]()
    x1, x2 = _inputs(name, 7, 0), _inputs(name, 4, 1)
    return {
        "model": model,
        "x1": x1,
        "x2": x2,
        "full11": _explicit_ntk(model, x1, x1),
        "full12": _explicit_ntk(model, x1, x2),
    }


@pytest.mark.parametrize("strategy", ["auto", *STRATEGIES])
@pytest.mark.parametrize("chunk_size", [None, 1, 3])
def test_full_matches_explicit_jacobians(case: dict, strategy: str, chunk_size: int | None) -> None:
    model, x1, x2 = case["model"], case["x1"], case["x2"]
    sym = empirical_ntk(model, x1, mode="full", strategy=strategy, chunk_size=chunk_size)
    cross = empirical_ntk(model, x1, x2, mode="full", strategy=strategy, chunk_size=chunk_size)
    assert sym.shape == (7, 7, 3, 3) and cross.shape == (7, 4, 3, 3)
    assert sym.dtype == torch.float64
    torch.testing.assert_close(sym, case["full11"], **TOL)
    torch.testing.assert_close(cross, case["full12"], **TOL)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("chunk_size", [None, 2, 5])
def test_trace_and_output_modes_match_full(
    case: dict, strategy: str, chunk_size: int | None
) -> None:
    model, x1, x2 = case["model"], case["x1"], case["x2"]
    for x_b, full in ((None, case["full11"]), (x2, case["full12"])):
        trace = empirical_ntk(
            model, x1, x_b, mode="trace", strategy=strategy, chunk_size=chunk_size
        )
        torch.testing.assert_close(trace, full.diagonal(dim1=2, dim2=3).sum(-1), **TOL)
        for k in range(3):
            kernel_k = empirical_ntk(
                model, x1, x_b, mode=k, strategy=strategy, chunk_size=chunk_size
            )
            torch.testing.assert_close(kernel_k, full[:, :, k, k], **TOL)


def test_symmetric_and_positive_semidefinite(case: dict) -> None:
    model, x1 = case["model"], case["x1"]
    for strategy in STRATEGIES:
        trace = empirical_ntk(model, x1, mode="trace", strategy=strategy, chunk_size=3)
        assert torch.equal(trace, trace.T)  # the lower blocks are the transposed upper ones
        full = empirical_ntk(model, x1, mode="full", strategy=strategy, chunk_size=3)
        assert torch.equal(full, full.permute(1, 0, 3, 2))
        for gram in (trace, full.permute(0, 2, 1, 3).reshape(21, 21)):
            eigenvalues = torch.linalg.eigvalsh(gram)
            assert eigenvalues.min() >= -1e-12 * eigenvalues.max()
    # x2 given explicitly as a copy of x1 takes the unsymmetric path and agrees with it
    copy = empirical_ntk(model, x1, x1.clone(), mode="trace", chunk_size=2)
    torch.testing.assert_close(copy, empirical_ntk(model, x1, mode="trace"), **TOL)


def test_dtype_follows_model_and_numpy_inputs() -> None:
    model = _mlp().float()
    x = _inputs("mlp", 5, 0)  # float64 inputs are cast to the model's float32
    theta = empirical_ntk(model, x, mode="trace")
    assert theta.dtype == torch.float32
    ref = empirical_ntk(_mlp(), x, mode="trace")
    torch.testing.assert_close(theta.double(), ref, rtol=1e-5, atol=1e-5)
    from_numpy = empirical_ntk(_mlp(), x.numpy(), mode="trace", device="cpu")
    torch.testing.assert_close(from_numpy, ref, **TOL)


def test_scalar_output_model_and_frozen_parameters() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1), nn.Flatten(0)).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    theta = empirical_ntk(model, x, mode="full")
    assert theta.shape == (5, 5, 1, 1)
    torch.testing.assert_close(theta, _explicit_ntk(model, x, x), **TOL)
    model[0].weight.requires_grad_(False)  # frozen weights are not part of θ
    params = [p for p in model.parameters() if p.requires_grad]
    jac = torch.stack(
        [
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(model(xi[None])[0], params)])
            for xi in x
        ]
    )
    torch.testing.assert_close(empirical_ntk(model, x, mode=0), jac @ jac.T, **TOL)


def test_batch_norm_in_training_mode_is_refused_and_eval_mode_is_exact() -> None:
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)).double()
    x = _inputs("mlp", 6, 0)
    model.train()
    model(x)  # non-trivial running statistics
    with pytest.raises(ValueError, match=r"model is in training mode.*1 \(BatchNorm1d\).*eval\(\)"):
        empirical_ntk(model, x)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for strategy in STRATEGIES:
        theta = empirical_ntk(model, x, mode="full", strategy=strategy, chunk_size=4)
        torch.testing.assert_close(theta, _explicit_ntk(model, x, x), **TOL)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    dropout = nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.5), nn.Linear(4, 2)).double()
    with pytest.raises(ValueError, match=r"1 \(Dropout\)"):
        empirical_ntk(dropout.train(), x)
    plain = _mlp().train()  # no batch norm or dropout: training mode is the same function
    torch.testing.assert_close(
        empirical_ntk(plain, x, mode="trace"), empirical_ntk(plain.eval(), x, mode="trace"), **TOL
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "diag"}, "mode must be one of 'full', 'trace'"),
        ({"mode": 3}, r"mode must be an integer in \[0, 2\]"),
        ({"mode": -1}, r"mode must be an integer in \[0, 2\]"),
        ({"mode": True}, "mode must be 'full', 'trace' or an output index"),
        ({"mode": 1.0}, "mode must be 'full', 'trace' or an output index"),
        ({"chunk_size": 0}, r"chunk_size must be an integer in \[1, inf\]"),
        ({"strategy": "fast"}, "strategy must be one of 'auto', 'jacobian', 'ntk_vp'"),
        ({"x2": torch.zeros(3, 4)}, r"x2 must hold inputs of the same shape as x1's \(5,\)"),
        ({"x1": torch.zeros(0, 5)}, "x1 must have a leading batch dimension"),
        ({"x1": torch.zeros(3, 4)}, "x1 cannot be fed to the model"),
        ({"x1": "abc"}, "x1 must be a tensor or array"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, message: str) -> None:
    args = {"x1": _inputs("mlp", 4, 0), **kwargs}
    x1 = args.pop("x1")
    with pytest.raises(ValueError, match=message):
        empirical_ntk(_mlp(), x1, **args)


def test_model_argument_is_checked() -> None:
    with pytest.raises(ValueError, match=r"model must be a torch\.nn\.Module"):
        empirical_ntk(lambda x: x, torch.zeros(2, 3))  # type: ignore[arg-type]
    frozen = _mlp().requires_grad_(False)
    with pytest.raises(ValueError, match="requires_grad=True"):
        empirical_ntk(frozen, _inputs("mlp", 2, 0))


def test_cost_model_choice() -> None:
    # Dense network (F ≈ 2P): contraction ≈ 2·C²·P flops per pair in full mode, 2·C·P for the
    # trace, 2·P for one output; NTK-VP ≈ 2·F = 4·P per pair and output (also for the trace),
    # weighted 4 (measured per-flop slowdown, benchmarks/ntk.py): VP wins in full mode for C > 8.
    x = torch.randn(64, 40)
    many = nn.Sequential(nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 64))
    # Every module here has its structured formula, so "auto" picks "structured"; between the
    # two generic strategies the flop model orders them as before.
    full = ntk_cost(many, x, mode="full")
    assert full.choice == "structured" and full.flops["ntk_vp"] < full.flops["jacobian"]
    few = nn.Sequential(nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 4))
    few_cost = ntk_cost(few, x, mode="full")
    assert few_cost.flops["jacobian"] < few_cost.flops["ntk_vp"]
    model = nn.Sequential(nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 10))
    for mode in ("trace", 3):
        cost = ntk_cost(model, x, mode=mode)
        assert cost.choice == "structured" and cost.flops["jacobian"] < cost.flops["ntk_vp"]
        # structured: 2·(d_in + c_k·d_out) per pair and layer against the contraction's 2·c_k·P
        assert cost.flops["structured"] < cost.flops["jacobian"] / 5
    assert cost.num_outputs == 10 and cost.num_params == 40 * 256 + 256 + 2570
    assert cost.forward_flops == 2 * (40 * 256 + 256 * 10)  # matrix products only
    assert cost.activations == 256 + 256 + 10  # outputs of the Linear, ReLU and Linear leaves
    # the automatic chunks keep the working memory of a block near the 512 MiB budget
    assert all(0 < mem <= 600 * 2**20 for mem in full.memory.values())
