"""Chains of self-distilled generations: losses, targets, teacher isolation, α modes, resume."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from selfdistill.alpha import optimal_alpha  # noqa: E402
from selfdistill.nn.chains.distill import (  # noqa: E402
    freeze,
    make_loss,
    mix_targets,
    mse_softmax_loss,
    soft_cross_entropy,
    teacher_probabilities,
)
from selfdistill.nn.chains.run import (  # noqa: E402
    ChainConfig,
    _build,
    distill_generation,
    fit_seed,
    run_alpha_chains,
    run_chain,
    select_grid,
)
from selfdistill.nn.data_splits import load_dataset  # noqa: E402
from selfdistill.nn.models import build_model  # noqa: E402
from selfdistill.nn.training.loop import Callback, TrainConfig, fit  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return load_dataset("digits", seed=0, n_train=150, n_val=60, n_test=80)


def tiny_config(**kw) -> ChainConfig:
    train = TrainConfig(epochs=2, batch_size=32, lr=0.2, progress=False)
    base = {"generations": 3, "alpha": 0.0, "loss": "mse", "width": 16, "train": train}
    base.update(kw)
    return ChainConfig(**base)


def strip(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


# ---- losses and targets -------------------------------------------------------------------


def test_mse_softmax_loss_matches_explicit_formula():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 4, generator=g, dtype=torch.float64)
    targets = torch.softmax(torch.randn(7, 4, generator=g, dtype=torch.float64), 1)
    p = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(1, keepdims=True)
    expected = ((p - targets.numpy()) ** 2).sum(1).mean()
    assert float(mse_softmax_loss(logits, targets)) == pytest.approx(expected, rel=1e-12)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    onehot = F.one_hot(labels, 4).double()
    assert float(mse_softmax_loss(logits, labels)) == pytest.approx(
        float(mse_softmax_loss(logits, onehot)), rel=1e-12
    )


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_soft_cross_entropy_matches_torch_and_formula(temperature):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(9, 5, generator=g, dtype=torch.float64)
    targets = torch.softmax(torch.randn(9, 5, generator=g, dtype=torch.float64), 1)
    expected = temperature**2 * F.cross_entropy(logits / temperature, targets)
    assert float(soft_cross_entropy(logits, targets, temperature)) == pytest.approx(
        float(expected), rel=1e-12
    )
    labels = torch.arange(9) % 5
    assert float(soft_cross_entropy(logits, labels)) == pytest.approx(
        float(F.cross_entropy(logits, labels)), rel=1e-12
    )


def test_make_loss_and_config_validation():
    with pytest.raises(ValueError, match="loss"):
        make_loss("l1")
    with pytest.raises(ValueError, match="temperature"):
        make_loss("mse", 2.0)
    with pytest.raises(ValueError, match="temperature"):
        make_loss("ce", 0.0)
    with pytest.raises(ValueError, match="alpha"):
        ChainConfig(generations=4, alpha=(0.1, 0.2))
    with pytest.raises(ValueError, match="alpha"):
        ChainConfig(alpha="best")
    with pytest.raises(ValueError, match="generations"):
        ChainConfig(generations=0)
    with pytest.raises(ValueError, match="alpha"):
        ChainConfig(alpha=float("nan"))


def test_mix_targets():
    probs = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(2)), 1)
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    onehot = F.one_hot(labels, 3).float()
    torch.testing.assert_close(mix_targets(1.0, labels, probs), onehot)
    torch.testing.assert_close(mix_targets(0.0, labels, probs), probs)
    mixed = mix_targets(0.3, labels, probs)
    torch.testing.assert_close(mixed, 0.3 * onehot + 0.7 * probs)
    torch.testing.assert_close(mixed.sum(1), torch.ones(6))
    with pytest.raises(ValueError, match="rows"):
        mix_targets(0.5, labels[:3], probs)


# ---- one generation ----------------------------------------------------------------------


def test_teacher_is_a_distinct_frozen_object_that_never_changes(data):
    config = tiny_config(loss="ce", temperature=2.0)
    teacher, _ = distill_generation(None, data, config, 0, 1, 1.0)
    teacher.train()  # the caller's mode must survive
    before = {k: v.clone() for k, v in teacher.state_dict().items()}

    seen = []

    class Spy(Callback):
        def on_epoch_end(self, epoch, metrics, model):
            seen.append(model)

    student, _ = distill_generation(teacher, data, config, 0, 2, 0.0, callbacks=[Spy()])
    assert student is not teacher and all(m is not teacher for m in seen)
    teacher_ptrs = {p.data_ptr() for p in teacher.parameters()}
    assert not teacher_ptrs & {p.data_ptr() for p in student.parameters()}
    for k, v in teacher.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert teacher.training  # untouched
    assert all(p.requires_grad for p in teacher.parameters())

    frozen = freeze(teacher)
    assert frozen is not teacher and not frozen.training
    assert not any(p.requires_grad for p in frozen.parameters())


def test_generation_trains_on_the_mixed_target_exactly(data):
    """Reference: build the student and targets by hand and call fit; weights must agree."""
    config = tiny_config(loss="ce", temperature=2.0)
    teacher, _ = distill_generation(None, data, config, 5, 1, 1.0)
    student, info = distill_generation(teacher, data, config, 5, 2, 0.25)

    ref = build_model("mlp", data.input_shape, data.num_classes, width=16, seed=fit_seed(5, 2, 0))
    logits = teacher(data.x_train).detach() / 2.0
    targets = 0.25 * F.one_hot(data.y_train, data.num_classes).float() + 0.75 * torch.softmax(
        logits, 1
    )
    fit(
        ref,
        data.x_train,
        targets,
        replace(config.train, seed=fit_seed(5, 2, 1)),
        loss_fn=lambda z, t, ctx: -4.0 * (t * torch.log_softmax(z / 2.0, 1)).sum(1).mean(),
    )
    for a, b in zip(student.state_dict().values(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # Train accuracy is measured against the ORIGINAL labels.
    pred = ref(data.x_train).argmax(1)
    assert info["train_acc"] == pytest.approx(float((pred == data.y_train).double().mean()))


def test_teacher_probabilities_are_computed_in_eval_mode():
    class Dropper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)
            self.drop = torch.nn.Dropout(0.9)

        def forward(self, x):
            return self.drop(self.lin(x))

    torch.manual_seed(0)
    model = Dropper().train()
    x = torch.randn(20, 4)
    probs = teacher_probabilities(model, x, temperature=1.0)
    torch.testing.assert_close(probs, torch.softmax(model.lin(x).detach(), 1))
    assert model.training


def test_same_init_and_fresh_init(data):
    same = tiny_config(same_init=True)
    fresh = tiny_config(same_init=False)
    a, b = _build(data, same, 0, 1), _build(data, same, 0, 4)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    c, d = _build(data, fresh, 0, 1), _build(data, fresh, 0, 2)
    assert any(not torch.equal(p, q) for p, q in zip(c.parameters(), d.parameters(), strict=True))


# ---- α modes -----------------------------------------------------------------------------


def test_fixed_schedule_records(data, tmp_path):
    config = tiny_config(alpha=(0.2, 0.7))
    records = run_chain(data, config, 0, state_dir=tmp_path, keep_weights=True)
    assert [r["generation"] for r in records] == [1, 2, 3]
    assert [r["alpha"] for r in records] == [None, 0.2, 0.7]
    assert [r["fits"] for r in records] == [1, 2, 3]
    for r in records:
        assert np.isfinite(r["train_loss"])

    # Every reported metric recomputed in NumPy from the saved weights of each generation.
    from selfdistill.nn.chains.store import ChainStore

    store = ChainStore(tmp_path / "seed-0")
    models = [
        store.load_into(k, _build(data, config, 0, t))
        for t, k in ((1, "gen-1"), (2, "fixed/gen-2"), (3, "fixed/gen-3"))
    ]
    for model, r in zip(models, records, strict=True):
        for split in ("train", "val", "test"):
            x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}").numpy()
            logits = model(x).detach().double().numpy()
            assert r[f"{split}_acc"] == pytest.approx(np.mean(logits.argmax(1) == y), abs=1e-12)
            if split == "train":
                continue
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            onehot = np.eye(data.num_classes)[y]
            assert r[f"{split}_mse"] == pytest.approx(np.mean(((p - onehot) ** 2).sum(1)), 1e-5)
            ce = -np.mean(np.log(p[np.arange(len(y)), y]))
            assert r[f"{split}_ce"] == pytest.approx(ce, rel=1e-5)
    # Generation 3 is the student of generation 2 with alpha 0.7 (not 0.2): retrained, it matches.
    again, info = distill_generation(models[1], data, config, 0, 3, 0.7)
    for p, q in zip(again.parameters(), models[2].parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert info["test_acc"] == records[2]["test_acc"]


def test_estimate_mode_matches_a_manual_recomputation(data, tmp_path):
    config = tiny_config(alpha="estimate", generations=3, clip_alpha=False)
    records = run_chain(data, config, 1, state_dir=tmp_path, keep_weights=True)
    assert [r["fits"] for r in records] == [1, 3, 5]  # 2(t - 1) + 1
    assert records[0]["alpha"] is None

    from selfdistill.nn.chains.store import ChainStore

    store = ChainStore(tmp_path / "seed-1")
    first = store.load_into("gen-1", _build(data, config, 1, 1))
    onehot = F.one_hot(data.y_val, data.num_classes).numpy()
    first_val = torch.softmax(first(data.x_val), 1).detach().numpy()
    teacher = first
    for t in (2, 3):
        zero, _ = distill_generation(teacher, data, config, 1, t, 0.0)
        zero_val = torch.softmax(zero(data.x_val), 1).detach().numpy()
        expected = optimal_alpha(onehot, first_val, zero_val)
        assert records[t - 1]["alpha_hat"] == pytest.approx(expected, rel=1e-5, abs=1e-6)
        assert records[t - 1]["alpha"] == records[t - 1]["alpha_hat"]  # no clipping asked
        teacher = store.load_into(f"estimate/gen-{t}", _build(data, config, 1, t))


def test_estimate_clips_alpha_to_unit_interval(data):
    records = run_chain(data, tiny_config(alpha="estimate", generations=2), 0)
    rec = records[1]
    assert rec["alpha"] == pytest.approx(min(max(rec["alpha_hat"], 0.0), 1.0))


def test_grid_mode_selects_best_validation_chain(data):
    grid = (0.0, 0.5, 1.0)
    config = tiny_config(alpha="grid", grid=grid)
    records = run_chain(data, config, 0)
    assert [r["fits"] for r in records] == [1, 4, 7]  # g(t - 1) + 1
    chains = run_alpha_chains(data, config, 0, {f"a{a}": (a, a) for a in grid})
    for i in (1, 2):
        best = max(chains[f"a{a}"][i]["val_acc"] for a in grid)
        assert records[i]["val_acc"] == best
        assert records[i]["grid_val_acc"][str(records[i]["alpha"])] == best
        assert (
            strip([records[i]])[0]["test_acc"] == chains[f"a{records[i]['alpha']}"][i]["test_acc"]
        )


def test_select_grid_counts_fits_and_breaks_ties_by_mse():
    def rec(g, acc, mse):
        return {"generation": g, "alpha": None if g == 1 else 0.0, "val_acc": acc, "val_mse": mse}

    chains = {
        0.0: [rec(1, 0.5, 1.0), rec(2, 0.6, 0.3), rec(3, 0.7, 0.2)],
        0.5: [rec(1, 0.5, 1.0), rec(2, 0.6, 0.2), rec(3, 0.8, 0.9)],
    }
    out = select_grid(chains)
    assert [r["fits"] for r in out] == [1, 3, 5]
    assert [r["alpha"] for r in out] == [None, 0.5, 0.5]


def test_generations_share_the_first_model_across_chains(data):
    chains = run_alpha_chains(data, tiny_config(), 0, {"a": (0.0, 0.0), "b": (0.9, 0.9)})
    assert strip(chains["a"][:1]) == strip(chains["b"][:1])
    assert strip(chains["a"][1:]) != strip(chains["b"][1:])


# ---- resume ------------------------------------------------------------------------------


class Interrupt(Exception):
    pass


class StopAfter(Callback):
    def __init__(self, epochs):
        self.left = epochs

    def on_epoch_end(self, epoch, metrics, model):
        self.left -= 1
        if self.left == 0:
            raise Interrupt


class CountEpochs(Callback):
    def __init__(self):
        self.n = 0

    def on_epoch_end(self, epoch, metrics, model):
        self.n += 1


@pytest.mark.parametrize("alpha", [0.3, "estimate"])
def test_interrupted_run_resumes_to_the_same_result(data, tmp_path, alpha):
    config = tiny_config(alpha=alpha, generations=4)
    reference = run_chain(data, config, 2, state_dir=tmp_path / "ref")
    fits_per_generation = 2 if alpha == "estimate" else 1
    # Interrupt in the middle of generation 3 (epochs: gen 1 = 2, gen 2 = 2 * fits, ...).
    stop = 2 + 2 * fits_per_generation + 1
    with pytest.raises(Interrupt):
        run_chain(data, config, 2, state_dir=tmp_path / "cut", callbacks=[StopAfter(stop)])
    assert (tmp_path / "cut" / "seed-2" / "gen-1.json").exists()
    counter = CountEpochs()
    resumed = run_chain(data, config, 2, state_dir=tmp_path / "cut", callbacks=[counter])
    assert counter.n == 2 * 2 * fits_per_generation  # only generations 3 and 4 were trained
    assert strip(resumed) == strip(reference)
    # A second rerun trains nothing and returns the same records.
    counter = CountEpochs()
    assert strip(run_chain(data, config, 2, state_dir=tmp_path / "cut", callbacks=[counter])) == (
        strip(reference)
    )
    assert counter.n == 0


def test_resume_refuses_another_configuration(data, tmp_path):
    run_chain(data, tiny_config(generations=2), 0, state_dir=tmp_path)
    with pytest.raises(ValueError, match="another configuration"):
        run_chain(data, tiny_config(generations=2, alpha=0.5), 0, state_dir=tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_chain_runs_unchanged_on_cuda(data, tmp_path):
    config = tiny_config(alpha="estimate", train=replace(tiny_config().train, device="cuda"))
    records = run_chain(data, config, 0, state_dir=tmp_path)
    assert [r["fits"] for r in records] == [1, 3, 5]
    assert strip(run_chain(data, config, 0, state_dir=tmp_path)) == strip(records)


# ---- the shared distillation step, split metrics and the store ------------------------------


def test_split_metrics_match_an_independent_computation(data):
    from selfdistill.nn.chains.distill import split_metrics

    model = build_model("mlp", data.input_shape, data.num_classes, width=16, seed=4)
    out = split_metrics(model, data, "cpu")
    assert list(out) == [
        "train_acc", "val_acc", "val_mse", "val_ce", "test_acc", "test_mse", "test_ce",
    ]  # fmt: skip
    model.eval()
    with torch.no_grad():
        for name, x, y in (("train", data.x_train, data.y_train), ("val", data.x_val, data.y_val),
                           ("test", data.x_test, data.y_test)):  # fmt: skip
            p = torch.softmax(model(x).double(), 1).numpy()
            yn = y.numpy()
            assert out[f"{name}_acc"] == pytest.approx(np.mean(p.argmax(1) == yn), abs=1e-12)
            if name == "train":
                continue
            e = np.eye(data.num_classes)[yn]
            assert out[f"{name}_mse"] == pytest.approx(((p - e) ** 2).sum(1).mean(), rel=1e-5)
            ce = -np.log(p[np.arange(len(yn)), yn]).mean()
            assert out[f"{name}_ce"] == pytest.approx(ce, rel=1e-5)
    accs = split_metrics(model, data, "cpu", losses=False)
    assert accs == {k: out[k] for k in ("train_acc", "val_acc", "test_acc")}


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_distill_step_equals_fit_on_the_mixed_targets(data, loss):
    from selfdistill.nn.chains.distill import distill_step

    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.2, progress=False, seed=5)
    temperature = 2.0 if loss == "ce" else 1.0
    teacher = build_model("mlp", data.input_shape, data.num_classes, width=16, seed=1)
    teacher.train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}

    def student():
        return build_model("mlp", data.input_shape, data.num_classes, width=16, seed=2)

    got = student()
    hist = distill_step(got, teacher, data, cfg, alpha=0.3, loss=loss, temperature=temperature)
    assert teacher.training  # the caller's teacher keeps its mode and its weights
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert not got.training

    teacher.eval()
    with torch.no_grad():
        probs = torch.softmax(teacher(data.x_train) / temperature, 1)
    onehot = F.one_hot(data.y_train, data.num_classes).float()
    expected = student()
    ref = fit(expected, data.x_train, 0.3 * onehot + 0.7 * probs, cfg,
              loss_fn=make_loss(loss, temperature))  # fmt: skip
    for a, b in zip(got.parameters(), expected.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert hist.column("train_loss") == pytest.approx(ref.column("train_loss"), rel=1e-5)

    labels_only = student()
    distill_step(labels_only, None, data, cfg, loss=loss, temperature=temperature)
    plain = student()
    fit(plain, data.x_train, data.y_train, cfg, loss_fn=make_loss(loss))  # T = 1 without teacher
    assert all(
        torch.equal(a, b) for a, b in zip(labels_only.parameters(), plain.parameters(), strict=True)
    )


def test_chain_store_round_trip_and_missing_weights(data, tmp_path):
    from selfdistill.nn.chains.store import ChainStore, check_state, safe_name

    store = ChainStore(tmp_path)
    model = build_model("mlp", data.input_shape, data.num_classes, width=16, seed=3)
    assert store.record("a/gen-2") is None
    (tmp_path / "a").mkdir()
    store.save("a/gen-2", model, {"generation": 2, "alpha": 0.5})
    assert store.record("a/gen-2") == {"generation": 2, "alpha": 0.5}
    other = build_model("mlp", data.input_shape, data.num_classes, width=16, seed=8)
    other.train()
    assert store.load_into("a/gen-2", other) is other and not other.training
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters(), strict=True)
    )
    store.drop_weights("a/gen-2")
    assert store.record("a/gen-2") is not None  # the record stays
    # missing weights are None: the chain retrains them from the last intact generation
    assert store.load_into("a/gen-2", other) is None
    assert ChainStore(None).record("gen-1") is None
    assert ChainStore(None).load_into("gen-1", other) is None
    assert safe_name("alpha=0.5 / x") == "alpha=0.5___x"
    check_state(tmp_path, {"a": 1})
    check_state(tmp_path, {"a": 1})
    with pytest.raises(ValueError, match="another configuration"):
        check_state(tmp_path, {"a": 2})
