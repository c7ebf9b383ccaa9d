import importlib.util
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from spikecodec.models.energy import EdgeEnergyMeter
from spikecodec.models.checkpoint import load_model, read_checkpoint, save_checkpoint
from spikecodec.models.factory import build_model
from spikecodec.models.layers import NeuronSpec
from spikecodec.models.neurons import MultiStepLIF
from spikecodec.models.train import (Phase, TrainSettings, distillation_loss, end_to_end, evaluate, fit,
                                     load_initial_weights, three_phase, train_steps)

SCRIPT = Path(__file__).parents[2] / "scripts" / "train_reference.py"


def test_a_few_training_steps_lower_the_loss(fmnist_test, tiny_config):
    model = build_model(tiny_config()).train()
    x, y = fmnist_test[0][:32], fmnist_test[1][:32]
    optimizer = torch.optim.Adam(model.parameters(), 2e-2)
    with torch.no_grad():
        before = F.cross_entropy(model(x), y).item()
    train_steps(model, optimizer, [(x, y)] * 20)
    with torch.no_grad():
        after = F.cross_entropy(model(x), y).item()
    assert after < before - 0.3


def test_checkpoint_round_trip_is_weights_only(tmp_path, fmnist_test, tiny_config):
    config = tiny_config()
    model = build_model(config)
    train_steps(model.train(), torch.optim.Adam(model.parameters(), 1e-3), [fmnist_test[:2]])
    model.eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, config, note="x")
    raw = torch.load(path, weights_only=True)  # would raise on pickled objects
    assert raw["config"] == json.loads(json.dumps(config)) and raw["note"] == "x"
    restored = load_model(path)
    x = fmnist_test[0][:8]
    with torch.no_grad():
        assert torch.equal(restored(x), model(x))
    assert restored.unit.encoder[2].v_th.item() == 0.5  # neuron parameters travel with the weights


class _Interrupt(Exception):
    pass


def test_fit_resumes_from_last_checkpoint(tmp_path, fmnist_test, tiny_config):
    data = (fmnist_test[0][:128], fmnist_test[1][:128])
    settings = TrainSettings(batch_size=64, bf16=False, phases=end_to_end(2))

    def crash(line: str) -> None:
        raise _Interrupt(line)  # the process dies right after epoch 1 is saved

    with pytest.raises(_Interrupt):
        fit(tiny_config(), settings, data, data, tmp_path, log=crash)
    first = read_checkpoint(tmp_path / "last.pt")
    assert [h["epoch"] for h in first["history"]] == [1]
    logged = []
    fit(tiny_config(), settings, data, data, tmp_path, log=logged.append)
    history = read_checkpoint(tmp_path / "last.pt")["history"]
    assert [h["epoch"] for h in history] == [1, 2] and history[0] == first["history"][0]
    assert len(logged) == 1  # only epoch 2 ran again
    assert read_checkpoint(tmp_path / "best.pt")["test_acc"] == max(h["test_acc"] for h in history)


def test_three_phase_recipe_freezes_backbone_in_phase_two(tmp_path, fmnist_test, tiny_config):
    data = (fmnist_test[0][:128], fmnist_test[1][:128])
    unit = {"kind": "spiking", "channels": 2, "stride": 1}
    phases = three_phase(unit, (1, 1, 0))
    assert [p.trainable for p in phases] == ["all", "unit", "all"]
    config = tiny_config(unit={"kind": "identity"})
    settings = TrainSettings(batch_size=64, bf16=False, phases=phases[:1])
    fit(config, settings, data, data, tmp_path, log=lambda line: None)
    backbone_after_phase1 = read_checkpoint(tmp_path / "last.pt")["model"]
    settings.phases = phases[:2]  # resumes after phase 1 and runs phase 2
    model = fit(config, settings, data, data, tmp_path, log=lambda line: None)
    state = model.state_dict()
    for key, value in backbone_after_phase1.items():
        assert torch.equal(state[key], value), key  # backbone weights and BN statistics frozen
    assert any(k.startswith("unit.encoder") for k in state)
    assert read_checkpoint(tmp_path / "best.pt")["config"]["unit"] == unit


def test_evaluate_returns_accuracy(fmnist_test, tiny_config):
    model = build_model(tiny_config())
    acc = evaluate(model, fmnist_test[0][:100], fmnist_test[1][:100])
    assert 0.0 <= acc <= 1.0
    assert Phase("p", 1, 1e-3).trainable == "all"


def test_training_script_runs_from_local_files(tmp_path):
    spec = importlib.util.spec_from_file_location("train_reference", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    log = tmp_path / "log.jsonl"
    script.main(["--widths", "4", "8", "8", "--epochs", "1", "--train-limit", "64", "--test-limit", "64",
                 "--threads", "1", "--run-dir", str(tmp_path / "run"), "--log", str(log)])
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0]["config"]["backbone"]["widths"] == [4, 8, 8]
    assert lines[1]["epoch"] == 1 and lines[1]["unit"] == "spiking"
    assert load_model(tmp_path / "run" / "last.pt").split == "layer3"


def test_init_from_starts_phase_two_from_a_trained_backbone(tmp_path, fmnist_test, tiny_config):
    data = (fmnist_test[0][:128], fmnist_test[1][:128])
    fit(tiny_config(unit={"kind": "identity"}), TrainSettings(batch_size=64, bf16=False, phases=end_to_end(1)),
        data, data, tmp_path / "backbone", log=lambda line: None)
    source = read_checkpoint(tmp_path / "backbone" / "last.pt")["model"]
    unit = {"kind": "spiking", "channels": 2, "stride": 2}
    settings = TrainSettings(batch_size=64, bf16=False, init_from=str(tmp_path / "backbone" / "last.pt"),
                             phases=three_phase(unit, (0, 1, 0)))
    logged = []
    model = fit(tiny_config(), settings, data, data, tmp_path / "run", log=logged.append)
    assert [json.loads(line)["phase"] for line in logged] == ["bottleneck"]  # empty phases skipped
    state = model.state_dict()
    for key, value in source.items():
        if key.startswith("backbone."):
            assert torch.equal(state[key], value), key  # loaded, then frozen in phase 2
    assert read_checkpoint(tmp_path / "run" / "last.pt")["config"]["unit"] == unit


def test_init_from_rejects_a_different_backbone(tmp_path, fmnist_test, tiny_config):
    data = (fmnist_test[0][:64], fmnist_test[1][:64])
    fit(tiny_config(backbone={"arch": "resnet", "layout": "narrow", "widths": [4, 8, 16]}),
        TrainSettings(batch_size=64, bf16=False, phases=end_to_end(1)), data, data, tmp_path / "other",
        log=lambda line: None)
    settings = TrainSettings(batch_size=64, bf16=False, init_from=str(tmp_path / "other" / "last.pt"),
                             phases=end_to_end(1))
    with pytest.raises(ValueError, match="backbone does not match"):
        fit(tiny_config(), settings, data, data, tmp_path / "run", log=lambda line: None)


def test_energy_regulariser_lowers_the_edge_energy(fmnist_test, tiny_config):
    x, y = fmnist_test[0][:64], fmnist_test[1][:64]
    energies = []
    for weight in (0.0, 50.0):
        torch.manual_seed(0)
        model = build_model(tiny_config(encoding={"kind": "thermometer"})).train()
        train_steps(model, torch.optim.Adam(model.parameters(), 1e-2), [(x, y)] * 15, energy_weight=weight)
        with torch.no_grad(), EdgeEnergyMeter(model) as meter:  # training mode: 15 steps leave BN stats raw
            model(x)
        energies.append(meter.relative(len(x)).item())
    assert energies[1] < 0.6 * energies[0]


def test_code_rate_regulariser_lowers_the_code_firing_rate(fmnist_test, tiny_config):
    x, y = fmnist_test[0][:64], fmnist_test[1][:64]
    rates = []
    for weight in (0.0, 20.0):
        torch.manual_seed(0)
        model = build_model(tiny_config()).train()
        train_steps(model, torch.optim.Adam(model.parameters(), 1e-2), [(x, y)] * 15,
                    code_rate_weight=weight, code_rate_target=0.0)
        with torch.no_grad():
            rates.append(model.edge(x).float().mean().item())
    assert rates[1] < 0.6 * rates[0], rates


def test_init_from_also_loads_a_matching_unit(tmp_path, fmnist_test, tiny_config):
    """Fine-tuning: a checkpoint with the same unit starts the run with its unit too."""
    data = (fmnist_test[0][:64], fmnist_test[1][:64])
    fit(tiny_config(), TrainSettings(batch_size=64, bf16=False, phases=end_to_end(1)), data, data,
        tmp_path / "first", log=lambda line: None)
    source = read_checkpoint(tmp_path / "first" / "last.pt")["model"]
    model = build_model(tiny_config())
    load_initial_weights(model, tmp_path / "first" / "last.pt")
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in source.items() if k.startswith(("backbone.", "unit.")))
    assert any(k.startswith("unit.") for k in source)


def test_distillation_loss_blends_cross_entropy_and_the_softened_teacher():
    torch.manual_seed(1)
    logits, teacher, labels = torch.randn(16, 10), torch.randn(16, 10), torch.randint(0, 10, (16,))
    ce = F.cross_entropy(logits, labels)
    assert torch.allclose(distillation_loss(logits, teacher, labels, 0.0, 4.0), ce)
    assert torch.allclose(distillation_loss(logits, logits, labels, 0.5, 4.0), 0.5 * ce, atol=1e-6)  # KL(p||p) = 0
    soft = F.kl_div(F.log_softmax(logits / 2, 1), F.softmax(teacher / 2, 1), reduction="batchmean")
    assert torch.allclose(distillation_loss(logits, teacher, labels, 1.0, 2.0), 4 * soft, atol=1e-5)


def test_distillation_moves_the_student_toward_the_teacher(tmp_path, fmnist_test, tiny_config):
    x = fmnist_test[0][:64]
    teacher = build_model(tiny_config()).eval()
    save_checkpoint(tmp_path / "teacher.pt", teacher, tiny_config())
    with torch.no_grad():
        target = F.softmax(teacher(x) / 4, 1)
    student = build_model(tiny_config(timesteps=1)).train()

    def gap() -> float:
        with torch.no_grad():
            return F.kl_div(F.log_softmax(student(x) / 4, 1), target, reduction="batchmean").item()

    before = gap()
    train_steps(student, torch.optim.Adam(student.parameters(), 1e-2), [(x, fmnist_test[1][:64])] * 15,
                teacher=load_model(tmp_path / "teacher.pt"), distill_weight=1.0)
    assert gap() < 0.5 * before


def test_init_from_keeps_the_neuron_parameters_of_the_new_config(tmp_path, fmnist_test, tiny_config):
    """Fine-tuning with another surrogate width or threshold must not revert to the checkpoint's."""
    data = (fmnist_test[0][:64], fmnist_test[1][:64])
    fit(tiny_config(), TrainSettings(batch_size=64, bf16=False, phases=end_to_end(1)), data, data,
        tmp_path / "first", log=lambda line: None)
    neuron = NeuronSpec(v_th=0.75, surrogate_width=1.0).to_dict()
    model = build_model(tiny_config(neuron=neuron))
    load_initial_weights(model, tmp_path / "first" / "last.pt")
    lifs = [m for m in model.modules() if isinstance(m, MultiStepLIF)]
    assert lifs and all(float(m.v_th) == 0.75 and float(m.surrogate_width) == 1.0 for m in lifs)
    source = read_checkpoint(tmp_path / "first" / "last.pt")["model"]
    assert torch.equal(model.state_dict()["backbone.stages.stem.conv.weight"], source["backbone.stages.stem.conv.weight"])


def test_a_checkpoint_holds_paths_and_numpy_scalars_as_plain_values(tmp_path, tiny_config):
    # A Path in the settings (init_from=REFERENCE_DIR / ...) went into last.pt as a pickled
    # PosixPath, which weights_only loading refuses: every resume point was unreadable.
    import numpy as np

    config = tiny_config()
    path = tmp_path / "m.pt"
    save_checkpoint(path, build_model(config), config, settings={"init_from": tmp_path / "x.pt", "w": np.float64(0.5)},
                    table=np.arange(3))
    got = read_checkpoint(path)
    assert got["settings"] == {"init_from": str(tmp_path / "x.pt"), "w": 0.5} and got["table"].tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="a object does not go into a weights-only checkpoint|does not go into"):
        save_checkpoint(path, build_model(config), config, odd=object())
    with pytest.raises(IsADirectoryError):
        save_checkpoint(tmp_path, build_model(config), config)
    assert not list(tmp_path.glob("*.tmp"))


def test_a_run_resumes_only_with_the_settings_and_config_it_began_with(tmp_path, fmnist_test, tiny_config):
    # Resuming with another lr, weight decay or tau kept the old ones (they come back from the
    # checkpoint) and wrote the new ones into last.pt; one more epoch crashed in the schedule.
    data = (fmnist_test[0][:64], fmnist_test[1][:64])
    settings = TrainSettings(batch_size=64, bf16=False, phases=end_to_end(2))

    def crash(line: str) -> None:
        raise _Interrupt(line)

    with pytest.raises(_Interrupt):
        fit(tiny_config(), settings, data, data, tmp_path, log=crash)
    for other, what in ((TrainSettings(batch_size=64, bf16=False, phases=end_to_end(3)), "phases"),
                        (TrainSettings(batch_size=64, bf16=False, weight_decay=0.5, phases=end_to_end(2)), "weight_decay")):
        with pytest.raises(ValueError, match=f"started with other {what}"):
            fit(tiny_config(), other, data, data, tmp_path)
    changed = tiny_config()
    changed["neuron"] = {**changed["neuron"], "tau": 0.9}
    with pytest.raises(ValueError, match="started with other config"):
        fit(changed, settings, data, data, tmp_path)
    fit(tiny_config(), settings, data, data, tmp_path, log=lambda line: None)  # the same: it resumes
    assert [h["epoch"] for h in read_checkpoint(tmp_path / "last.pt")["history"]] == [1, 2]


def test_careless_training_inputs_are_refused(fmnist_test, tiny_config):
    model = build_model(tiny_config())
    x, y = fmnist_test[0][:16], fmnist_test[1][:16]
    for labels in (fmnist_test[1][:32], y[:, None], y[:8]):  # half the accuracy; an N x N table; an IndexError
        with pytest.raises(ValueError, match="one label each"):
            evaluate(model, x, labels)
    with pytest.raises(ValueError, match="no images"):
        evaluate(model, x[:0], y[:0])
    with pytest.raises(ValueError, match="trainable is 'all' or 'unit'"):
        Phase("p", 1, 1e-3, "Unit")  # trained the whole network
    with pytest.raises(ValueError, match="epochs is a count"):
        Phase("p", -1, 1e-3)
    ann = {**tiny_config(), "neuron": {**tiny_config()["neuron"], "spiking": False}}
    with pytest.raises(ValueError, match="needs a spiking network"):
        fit(ann, TrainSettings(bf16=False, energy_weight=0.01, phases=end_to_end(1)), (x, y), (x, y), "unused")
    with pytest.raises(ValueError, match="nothing to train"):
        fit(tiny_config(), TrainSettings(batch_size=0, phases=end_to_end(1)), (x, y), (x, y), "unused")
    with pytest.raises(ValueError, match="both are needed"):
        fit(tiny_config(), TrainSettings(phases=end_to_end(1)), (x, y), (x[:0], y[:0]), "unused")


@pytest.mark.parametrize("override, said", [
    ({"backbone": {"arch": "vgg", "layout": "narrow"}}, "arch is one of"),  # KeyError: 'vgg' before
    ({"backbone": {"arch": "resnet", "layout": "tiny"}}, "config backbone"),
    ({"encoding": {}}, "encoding is an object with a kind"),
    ({"unit": {"kind": "spiking"}}, "unit channels is a positive integer"),  # a TypeError in torch
    ({"timesteps": -1}, "timesteps is a positive integer"),  # built a T = 1 model
    ({"timesteps": 2.0}, "timesteps is a positive integer"),
    ({"neuron": {"tau": 2.0}}, "0 < tau <= 1"),
    ({"std": [0]}, "std values are positive"),
    ({"mean": [0.1, 0.2]}, "mean is a list of 1 numbers"),  # refused every image later
])
def test_config_mistakes_are_value_errors_naming_the_key(override, said):
    from spikecodec.models.factory import make_config

    with pytest.raises(ValueError, match=said):
        build_model(make_config(**override))


def test_configs_of_tuples_and_numpy_numbers_build_as_before():
    # check_config first refused what built before: a tuple mean, numpy scalars and arrays.
    import numpy as np

    from spikecodec.models.factory import make_config

    model = build_model(make_config(mean=(0.28,), std=np.array([0.35], np.float32), timesteps=np.int64(2),
                                    unit={"kind": "spiking", "channels": np.int64(4), "stride": 1}))
    assert model.backbone.timesteps == 2


def test_integer_currents_and_a_unit_of_another_kind(tmp_path, tiny_config):
    # MultiStepLIF cast tau and v_th to the input's integer type (both 0): other spikes than for
    # the same currents as floats. load_initial_weights copied a BottleNet unit into a BottleNet++
    # one whenever the names and shapes fitted.
    lif = MultiStepLIF()
    assert torch.equal(lif(torch.tensor([[-2], [1]])), lif(torch.tensor([[-2.0], [1.0]])))
    plain = {"kind": "bottlenet", "channels": 4, "stride": 1}
    ann = {"spiking": False, "tau": 0.25, "v_th": 0.5, "surrogate_width": 0.5, "detach_reset": False}
    source = build_model(tiny_config(unit=plain, neuron=ann))
    save_checkpoint(tmp_path / "b.pt", source, tiny_config(unit=plain, neuron=ann))
    target = build_model(tiny_config(unit={**plain, "kind": "bottlenetpp"}, neuron=ann))
    before = {k: v.clone() for k, v in target.unit.state_dict().items()}
    load_initial_weights(target, tmp_path / "b.pt")
    assert all(torch.equal(before[k], v) for k, v in target.unit.state_dict().items())
