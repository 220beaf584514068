"""helpers.nst: the batched L-BFGS against exact minimisers, budgets, batching, faults,
validation.

Most tests use the deterministic random VGG-19 (``weights="random"``, the ``random_weights``
fixture: the loop's behaviour does not depend on the weights) and 32x32 images, so they run in
seconds; those marked ``weights`` use the real ones.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from helpers import nst
from helpers.errors import UserError
from helpers.nst import losses, vgg

# --- the L-BFGS core against exact answers --------------------------------------------------


def test_batched_lbfgs_solves_quadratics_exactly():
    g = torch.Generator().manual_seed(0)
    eye = torch.eye(6, dtype=torch.float64)
    qs = [torch.randn(6, 6, dtype=torch.float64, generator=g) for _ in range(3)]
    a = torch.stack([q @ q.T + (i + 1) * eye for i, q in enumerate(qs)])
    b = torch.randn(3, 6, dtype=torch.float64, generator=g)
    x = torch.zeros(3, 6, dtype=torch.float64)
    opt = nst.BatchedLBFGS(x, history_size=10)
    for _ in range(80):
        f = 0.5 * torch.einsum("bi,bij,bj->b", x, a, x) - (b * x).sum(1) + 10.0
        opt.tell(f, torch.einsum("bij,bj->bi", a, x) - b)
        if opt.done:
            break
    torch.testing.assert_close(opt.x, torch.linalg.solve(a, b), atol=1e-7, rtol=0)


def _rosen(x: torch.Tensor) -> torch.Tensor:
    return (1 - x[:, 0]) ** 2 + 100 * (x[:, 1] - x[:, 0] ** 2) ** 2


def test_batched_lbfgs_matches_scipy_on_rosenbrock_and_elements_are_independent():
    starts = torch.tensor([[-1.2, 1.0], [0.5, -0.5], [2.0, 2.0]], dtype=torch.float64)

    def run(x0: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Minimise from ``x0``: the end points and the evaluations (tell calls) until done."""
        x = x0.clone()
        opt = nst.BatchedLBFGS(x, history_size=10)
        evaluations = 0
        for _ in range(400):
            xr = x.clone().requires_grad_(True)
            f = _rosen(xr)
            f.sum().backward()
            opt.tell(f.detach(), xr.grad)
            evaluations += 1
            if opt.done:
                break
        return opt.x, evaluations

    batched, _ = run(starts)
    for i, start in enumerate(starts):
        ref = scipy.optimize.minimize(
            lambda v: _rosen(torch.tensor(v)[None]).item(),
            start.numpy(),
            method="L-BFGS-B",
            jac=lambda v: _rosen_grad(v),
            tol=1e-14,
        )
        np.testing.assert_allclose(batched[i].numpy(), ref.x, atol=1e-5)
        alone, used = run(start[None])
        # same trajectory alone and in a batch: the per-element states do not couple
        torch.testing.assert_close(alone[0], batched[i], atol=1e-12, rtol=0)
        # the cost, not only the end point: at most twice scipy's evaluations (with the exact
        # gradient, scipy's nfev counts function-and-gradient calls, like our tell calls;
        # measured: 56, 34, 31 against scipy's 46, 33, 31)
        assert used <= 2 * ref.nfev, (start.tolist(), used, ref.nfev)


def _rosen_grad(v: np.ndarray) -> np.ndarray:
    x = torch.tensor(v)[None].requires_grad_(True)
    _rosen(x).sum().backward()
    return x.grad[0].numpy()


# --- budgets, history, batching -------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_steps_count_forward_backward_passes(fast, images, monkeypatch, optimizer):
    content, style = images
    calls = {"grad": 0}
    original = vgg.VGGFeatures.forward

    def counting(self, image):
        if torch.is_grad_enabled() and image.requires_grad:
            calls["grad"] += 1
        return original(self, image)

    monkeypatch.setattr(vgg.VGGFeatures, "forward", counting)
    res = nst.stylize(content, style, steps=9, optimizer=optimizer, record_every=4, **fast)
    assert calls["grad"] == res.evaluations == 9
    assert res.history.evaluations.tolist() == [1, 4, 8, 9]
    assert res.history.total.shape == (4, 1)
    assert set(res.history.layers) == {
        f"content:{vgg.CONTENT_LAYER_PAPER}",
        *(f"style:{n}" for n in vgg.STYLE_LAYERS),
    }
    assert res.history.seconds[-1, 0] >= res.history.seconds[0, 0] >= 0


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_batched_configs_equal_individual_runs(fast, images, optimizer):
    content, style = images
    objs = [
        nst.Objective.from_ratio(1e-2, style_layers=[1, 0, 0, 0, 0]),
        nst.Objective.from_ratio(1e-4, style_layers=[0.2] * 5),
        nst.Objective(
            alpha=1.0,
            beta=1.0,
            content_layers="conv2_1",
            style_layers="conv1_1,conv2_1",
            regularisers={"tv": 0.1},
        ),
    ]
    opts = dict(content=content, style=style, steps=8, optimizer=optimizer, lr=0.02, **fast)
    batched = nst.optimize(objs, **opts)
    for i, obj in enumerate(objs):
        alone = nst.optimize(obj, **opts)
        np.testing.assert_allclose(batched.images[i], alone.image, atol=2e-3)
        np.testing.assert_allclose(batched.losses["total"][i], alone.losses["total"][0], rtol=2e-3)
    # and chunked runs (max_batch) are the same again
    chunked = nst.optimize(objs, max_batch=2, **opts)
    np.testing.assert_allclose(np.stack(chunked.images), np.stack(batched.images), atol=2e-3)
    assert chunked.history.total.shape[1] == 3


def test_losses_decrease_and_history_matches_final(fast, random_weights, images):
    content, style = images
    res = nst.stylize(content, style, steps=30, ratio=1e-2, **fast)
    assert res.history.total[-1, 0] < 0.5 * res.history.total[0, 0]
    # L-BFGS with Armijo: accepted iterates only go down
    assert np.all(np.diff(res.history.total[:, 0]) <= 0)
    img = res.image
    assert img.shape == (32, 32, 3) and img.dtype == np.float32
    assert img.min() >= 0 and img.max() <= 1
    # final losses are those of the returned (clipped) image, recomputed independently here
    net = nst.build_network([vgg.CONTENT_LAYER_PAPER, *vgg.STYLE_LAYERS], weights=random_weights)
    with torch.no_grad():
        f = net(torch.from_numpy(img.transpose(2, 0, 1).copy())[None])
        p = net(torch.from_numpy(content.transpose(2, 0, 1).copy())[None])[vgg.CONTENT_LAYER_PAPER]
        from helpers.images import resize

        s = net(torch.from_numpy(resize(style, (32, 32)).transpose(2, 0, 1).copy())[None])
    expected_style = sum(
        0.2 * losses.style_layer_loss(f[n], losses.gram_matrix(s[n])) for n in vgg.STYLE_LAYERS
    )
    expected_content = losses.content_layer_loss(f[vgg.CONTENT_LAYER_PAPER], p)
    np.testing.assert_allclose(res.losses["style"][0], expected_style.item(), rtol=1e-3)
    np.testing.assert_allclose(res.losses["content"][0], expected_content.item(), rtol=1e-3)
    np.testing.assert_allclose(
        res.losses["total"][0], 1e-2 * expected_content.item() + expected_style.item(), rtol=1e-3
    )


def test_grid_labels_seeds_and_csv(fast, images, tmp_path):
    content, style = images
    res = nst.alpha_beta_grid(
        content,
        style,
        ratios=[1e-2, 1e-6],
        style_layer_sets=[[1, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0]],
        steps=3,
        **fast,
    )
    assert res.rows == ["[1, 0, 0, 0, 0]", "[.5, .5, 0, 0, 0]"]
    assert res.cols == ["α/β = 1e-02", "α/β = 1e-06"]
    assert [len(r) for r in res.grid()] == [2, 2]
    assert res.objectives[3].style_layers == {"relu1_1": 0.5, "relu2_1": 0.5}
    assert res.objectives[3].ratio == pytest.approx(1e-6)
    path = res.save_csv(tmp_path / "grid.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("row,col,alpha,beta,ratio") and "style:relu1_1" in lines[0]
    assert len(lines) == 5
    seeds = nst.reconstruct_content(content, ["conv1_1"], seeds=[0, 1], steps=1, **fast)
    same = nst.reconstruct_content(content, ["conv1_1", "conv2_1"], seeds=0, steps=1, **fast)
    assert seeds.cols == ["seed 0", "seed 1"] and same.rows == ["conv1_1", "conv2_1"]
    assert not np.allclose(seeds.images[0], seeds.images[1])


def test_content_init_with_content_only_stops_at_zero_loss(fast, images):
    content, _ = images
    content = np.floor(content * 255 + 0.5) / 255  # 8-bit: the delivered image is the content
    res = nst.reconstruct_content(content, "conv3_1", init="content", steps=50, **fast)
    assert res.evaluations == 1  # gradient exactly 0: nothing to do
    np.testing.assert_array_equal(res.image, content)
    assert res.losses["total"][0] == 0


def test_style_image_of_another_size_is_compared_per_position(fast, images):
    """A raw Gram grows with the positions M; a 2x larger style image must not change the scale."""
    content, style = images
    opts = dict(size="32x32", init=content, steps=1, **fast)
    small = nst.reconstruct_style(style, [[1, 0, 0, 0, 0]], **opts)
    large = nst.reconstruct_style(style, [[1, 0, 0, 0, 0]], style_size="64x64", **opts)
    ratio = large.history.total[0, 0] / small.history.total[0, 0]
    assert 0.5 < ratio < 2.0  # unscaled it would be about (64²/32²)² = 16 times larger


# --- faults ---------------------------------------------------------------------------------


def test_huge_learning_rate_is_caught_with_evaluation_and_cause(fast, images):
    content, style = images
    message = r"non-finite .* at evaluation \d+.*learning rate lr=1e\+30 is probably too high"
    with pytest.raises(UserError, match=message):
        nst.stylize(content, style, optimizer="adam", lr=1e30, steps=20, **fast)


def test_interrupt_returns_latest_finite_partial_result(fast, images):
    content, style = images

    def stop(step):
        if step.evaluation >= 4:
            raise KeyboardInterrupt

    with pytest.raises(nst.Interrupted) as info:
        nst.stylize(content, style, steps=50, record_every=2, callback=stop, **fast)
    partial = info.value.partial
    assert partial is not None and partial.evaluations == 4
    assert np.isfinite(partial.image).all() and partial.image.shape == (32, 32, 3)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_callback_returning_true_ends_the_run_there(fast, images, optimizer):
    content, style = images
    seen = []

    def stop(step):
        seen.append(step.evaluation)
        return step.evaluation >= 6  # anything but True (None, False) carries on

    res = nst.stylize(
        content, style, steps=50, record_every=2, callback=stop, optimizer=optimizer, **fast
    )
    assert seen == [1, 2, 4, 6] and res.evaluations == 6
    assert res.history.evaluations[-1] == 6


def test_one_options_object_and_progress_reports_without_printing(fast, images, capsys):
    content, style = images
    reports = []
    options = nst.RunOptions(steps=5, record_every=2, progress=reports.append, weights="random")
    res = nst.optimize(
        nst.Objective.from_ratio(1e-2), content=content, style=style, options=options
    )
    # the same run through keywords, and keywords over the options object
    same = nst.stylize(content, style, ratio=1e-2, steps=5, record_every=2, **fast)
    np.testing.assert_array_equal(res.image, same.image)
    more = nst.optimize(
        nst.Objective.from_ratio(1e-2), content=content, style=style, options=options, steps=6
    )
    assert more.evaluations == 6
    assert capsys.readouterr() == ("", "")  # the core never prints
    first = [r for r in reports if r.steps == 5]
    assert [r.evaluation for r in first] == [1, 2, 3, 4, 5, 5]
    assert [r.done for r in first] == [False] * 5 + [True]
    assert first[0].loss == pytest.approx(float(res.history.total[0, 0]))
    assert first[-1].loss == pytest.approx(float(res.history.total[-1, 0]))
    assert first[0].batch == 1 and first[0].optimizer == "lbfgs"
    with pytest.raises(UserError, match="shows no bar itself"):
        nst.stylize(content, style, steps=1, weights=fast["weights"], progress=True)


def test_progress_bar_attaches_through_the_callback(fast, images, capsys):
    from helpers import progress

    content, style = images
    options = {**fast, "progress": progress.bar(desc="unit test")}
    nst.optimize(
        [nst.Objective(), nst.Objective()],
        content=content,
        style=style,
        steps=3,
        max_batch=1,
        **options,
    )
    err = capsys.readouterr().err
    assert "unit test" in err and "eval" in err
    assert progress.bar(False) is None


def test_interrupted_and_finished_runs_report_the_end(fast, images):
    content, style = images
    ends = []

    def stop(step):
        if step.evaluation >= 4:
            raise KeyboardInterrupt

    def watch(report):
        if report.done:
            ends.append(report.evaluation)

    with pytest.raises(nst.Interrupted):
        nst.stylize(
            content,
            style,
            steps=50,
            record_every=2,
            callback=stop,
            progress=watch,
            weights=fast["weights"],
        )
    nst.stylize(content, style, steps=3, progress=watch, weights=fast["weights"])
    assert ends == [4, 3]


def test_regulariser_terms_are_recorded_by_name_and_weight_zero_changes_nothing(fast, images):
    from helpers.images import quantize, to_tensor

    content, style = images
    plain = nst.stylize(content, style, steps=6, **fast)
    zero = nst.stylize(content, style, steps=6, edge_tv_weight=0.0, **fast)
    np.testing.assert_array_equal(zero.image, plain.image)
    np.testing.assert_array_equal(zero.history.total, plain.history.total)
    assert list(plain.history.terms) == ["tv"] and list(zero.history.terms) == ["tv", "edge_tv"]
    assert (zero.history.series("edge_tv") == 0).all() and zero.losses["edge_tv"][0] == 0
    assert plain.table()[0]["tv_weight"] == 0.0 and zero.table()[0]["edge_tv_weight"] == 0.0
    # a positive weight is optimised and recorded unweighted: the total is the sum of the terms
    edged = nst.stylize(content, style, steps=6, edge_tv_weight=5.0, tv_weight=1.0, **fast)
    obj = edged.objectives[0]
    assert obj.regularisers == {"tv": 1.0, "edge_tv": 5.0}
    h = edged.history
    total = obj.alpha * h.content + obj.beta * h.style + 1.0 * h.terms["tv"]
    np.testing.assert_allclose(h.total, total + 5.0 * h.terms["edge_tv"], rtol=1e-5)
    # the final losses are those of the delivered (8-bit) image, recomputed here
    delivered = {k: quantize(r.image) for k, r in (("plain", plain), ("edged", edged))}
    edge = {k: losses.edge_preserving_tv(to_tensor(im)).item() for k, im in delivered.items()}
    assert edged.losses["edge_tv"][0] == pytest.approx(edge["edged"], rel=1e-5)
    assert edge["edged"] < edge["plain"]  # and the regulariser lowered its term
    with pytest.raises(UserError, match="edge_tv_weight must be finite and >= 0"):
        nst.stylize(content, style, steps=1, edge_tv_weight=-1, **fast)
    with pytest.raises(UserError, match="unknown regulariser 'l7'; use one of tv, edge_tv"):
        nst.Objective(regularisers={"l7": 1.0})


def test_results_are_picked_by_label(fast, images):
    content, style = images
    grid = nst.reconstruct_content(content, ["conv1_1", "conv2_1"], seeds=[0, 1], steps=1, **fast)
    cell = grid.at("conv2_1", "seed 0")
    assert cell.image is grid.images[2] and grid.index("conv2_1", "seed 1") == 3
    assert cell.objectives[0].content_layers == {"conv2_1": 1.0}
    row = grid.select(rows=["conv1_1"])
    assert row.at(col="seed 1").image is grid.images[1]  # one row: name the column only
    with pytest.raises(KeyError, match="no column 'seed 7'"):
        grid.at("conv1_1", "seed 7")
    with pytest.raises(KeyError, match="name the row"):
        grid.at(col="seed 0")
    batch = nst.optimize(
        [nst.Objective(label="a"), nst.Objective(label="b")],
        content=content,
        style=style,
        steps=1,
        **fast,
    )
    assert batch.at("b").image is batch.images[1]
    with pytest.raises(KeyError, match="no element labelled 'c'"):
        batch.at("c")


def test_delivered_curve_until_stops_at_the_first_sampled_evaluation_reaching_it(fast, images):
    from benchmarks import quality

    content, style = images
    full = quality.delivered_curve(content, style, steps=30, **fast)
    level = float(full.delivered[3])  # the 4th sampled evaluation's delivered loss
    early = quality.delivered_curve(content, style, steps=30, until=level, **fast)
    first = full.evaluations_to_reach(level)
    assert early.evaluations[-1] == first <= full.evaluations[3]
    assert early.evaluations == full.evaluations[: len(early.evaluations)]
    np.testing.assert_allclose(early.delivered, full.delivered[: len(early.delivered)], rtol=1e-5)


def test_too_small_image_states_the_minimum(fast, images):
    content, style = images
    with pytest.raises(UserError, match="at least 16 px"):
        nst.stylize(content, style, size=12, steps=1, **fast)
    # shallower layers need less: conv2_1 is after one pooling
    res = nst.reconstruct_content(content, "conv2_1", size=4, steps=1, **fast)
    assert res.image.shape == (4, 4, 3)


def test_memory_estimate_refuses_with_a_suggested_size(fast, images, monkeypatch):
    content, style = images
    monkeypatch.setattr(nst.memory, "available_memory", lambda device: 300_000_000)
    with pytest.raises(UserError, match=r"needs about .* GiB .* use --size \d+"):
        nst.stylize(content, style, size=2048, steps=1, **fast)
    small = nst.estimate_memory(64, 64)
    assert nst.estimate_memory(128, 128) > 3 * (small - 80e6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"style_layers": "conv9_9"}, "unknown style layer name.*conv5_4"),
        ({"style_layers": {"conv1_1": -1, "conv2_1": 1}}, "weights must be finite and >= 0"),
        ({"style_layers": [0, 0, 0, 0, 0]}, "all style layer weights are zero"),
        ({"style_layers": [1, 0, 0]}, "needs one per layer"),
        ({"content_layers": "conv4_2:x"}, "not a number"),
        ({"alpha": 0, "beta": 0}, "alpha and beta are both 0"),
        ({"alpha": -1, "beta": 1}, "alpha must be finite and >= 0"),
        ({"steps": 0}, "steps must be a positive"),
        ({"steps": -3}, "steps must be a positive"),
        ({"optimizer": "sgd"}, "use one of lbfgs, adam"),
        ({"init": "zeros"}, "use content, noise, style"),
        ({"pooling": "min"}, "pooling must be"),
        ({"size": 0}, "must be positive"),
    ],
)
def test_bad_settings_are_clear_user_errors(fast, images, kwargs, message):
    content, style = images
    with pytest.raises(UserError, match=message):
        nst.stylize(content, style, **fast, **{"steps": 1, **kwargs})


def test_layer_weights_are_normalised_to_sum_to_one():
    assert nst.layer_weights({"conv1_1": 1, "conv2_1": 3}) == {"conv1_1": 0.25, "conv2_1": 0.75}
    assert nst.layer_weights("conv1_1:2,conv3_1") == pytest.approx(
        {"conv1_1": 2 / 3, "conv3_1": 1 / 3}
    )
    assert nst.layer_weights([0.5, 0.5, 0, 0, 0]) == {"relu1_1": 0.5, "relu2_1": 0.5}
    assert nst.layer_weights(["relu1_1", "relu2_1"]) == {"relu1_1": 0.5, "relu2_1": 0.5}
    with pytest.raises(UserError, match="listed twice"):
        nst.layer_weights("conv1_1,conv1_1")
    assert nst.Objective(style_layers=[2, 2, 2, 2, 2]).style_layers == nst.DEFAULT_STYLE_LAYERS


# --- real weights ---------------------------------------------------------------------------


@pytest.mark.weights
def test_real_texture_synthesis_and_content_reconstruction_make_progress():
    from helpers.assets import asset_path

    style = asset_path("nst/style/starry_night.jpg")
    tex = nst.reconstruct_style(
        style, [[0.5, 0.5, 0, 0, 0]], size="32x32", steps=40, progress=False
    )
    assert tex.losses["style"][0] < 0.05 * tex.history.style[0, 0]
    content = asset_path("nst/content/tubingen.jpg")
    rec = nst.reconstruct_content(content, "conv1_1", size=32, steps=60, progress=False)
    from helpers.images import load_image, resize

    target = resize(load_image(content), 32)
    noise = np.random.default_rng(0).random(target.shape)
    # conv1_1 keeps nearly everything
    assert np.abs(rec.image - target).mean() < 0.25 * np.abs(noise - target).mean()


def test_styles_of_different_shapes_keep_their_aspect_and_targets(fast, images):
    content, style = images
    tall = np.ascontiguousarray(style[:, :20])  # 40x20, another aspect ratio
    opts = dict(size="32x32", style_size=32, steps=2, **fast)
    res = nst.reconstruct_style({"square": style, "tall": tall}, [[1, 0, 0, 0, 0]], **opts)
    assert res.cols == ["square", "tall"] and len(res) == 2
    # each element is compared with its own style: the first losses differ though the init is
    # shared
    assert res.history.style[0, 0] != pytest.approx(res.history.style[0, 1], rel=1e-3)
    single = nst.reconstruct_style(tall, [[1, 0, 0, 0, 0]], **opts)
    np.testing.assert_allclose(single.history.style[0, 0], res.history.style[0, 1], rtol=1e-4)


def test_text_helpers_and_figures(fast, images):
    from helpers import figures, tables

    content, style = images
    grid = nst.alpha_beta_grid(
        content, style, ratios=[1e-2, 1e-4], style_layer_sets=[[1, 0, 0, 0, 0]], steps=3, **fast
    )
    text = tables.transfer_table(grid)
    assert len(text.splitlines()) == 3 and "1e-02" in text and "1e-04" in text
    rows = nst.layer_losses(grid, element=0)
    assert {r.layer: r.weight for r in rows}["style:relu1_1"] == 1.0
    assert [r.first for r in rows] == [float(s[0, 0]) for s in grid.history.layers.values()]
    layers = tables.layer_losses_table(rows)
    assert "style:relu1_1" in layers and " 1.00 " in layers
    runs = {
        "a": nst.stylize(content, style, steps=3, **fast),
        "b": nst.stylize(content, style, steps=3, init="noise", **fast),
    }
    compared = nst.compare_runs(runs)
    assert [r.run for r in compared.rows] == ["a", "b"]
    assert compared.level == max(float(r.history.total[-1, 0]) for r in runs.values())
    # every run ends at or below the weakest run's final loss, so each reaches it
    assert all(r.evaluations_to_level is not None for r in compared.rows)
    table = tables.run_comparison_table(compared)
    assert table.splitlines()[1].startswith("a ") and table.splitlines()[2].startswith("b ")
    assert f"evals to {compared.level:.3g}" in table.splitlines()[0]
    fig = figures.transfer_grid(grid, row_inputs=[content], col_inputs=[style, style], corner=None)
    assert len(fig.axes) == 2 * 3
    assert len(figures.loss_curves(runs).axes[0].lines) == 2
    assert len(figures.layer_loss_curves(grid, element=0).axes[0].lines) == 1
    assert len(figures.grid_heatmaps(grid).axes) == 4  # two heatmaps and their colour bars


def test_noise_amplitude_and_grid_selection(fast, images):
    content, style = images
    quiet = nst.reconstruct_content(content, ["conv1_1", "conv2_1"], seeds=[0, 1], steps=1, **fast)
    # one evaluation: still the initial noise
    assert quiet.images[0].min() >= 0.45 and quiet.images[0].max() <= 0.55
    loud = nst.reconstruct_content(content, "conv1_1", seeds=0, noise=0.5, steps=1, **fast)
    assert loud.image.min() < 0.05 and loud.image.max() > 0.95
    with pytest.raises(UserError, match="noise must be"):
        nst.reconstruct_content(content, "conv1_1", noise=-1, steps=1, **fast)
    col = quiet.select(cols=["seed 1"])
    assert col.rows == ["conv1_1", "conv2_1"] and col.images[1] is quiet.images[3]
    assert col.history.total.shape == (quiet.history.total.shape[0], 2)
    both = nst.TransferResult.hstack([quiet.select(cols=["seed 0"]), col], cols=["a", "b"])
    assert [id(i) for i in both.images] == [id(i) for i in quiet.images] and both.cols == ["a", "b"]
    assert quiet.cell(-1, 0).image is quiet.images[2]
