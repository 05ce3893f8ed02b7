"""The device and the precision (sklearn_sharprecl._network.device): an unusable device is refused
first; precision='auto' (the default) is bfloat16 where the hardware computes it natively."""

import pytest
import torch
from skorch.callbacks import Callback

from sklearn_sharprecl import SharpReCLClassifier


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as info:
            return next((set(line.split(":", 1)[1].split()) for line in info
                         if line.startswith(("flags", "Features"))), set())
    except OSError:
        return set()


class LinearOutputDtype(Callback):
    """The dtype an encoder Linear layer's output has during the first training batch."""

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and not hasattr(self, "dtype_"):
            layer = next(m for m in net.module_.encoder.modules() if isinstance(m, torch.nn.Linear))
            self.handle_ = layer.register_forward_hook(self._record)

    def _record(self, module, args, output):
        self.dtype_ = output.dtype
        self.handle_.remove()


def fitted(params, tickets, **settings):
    X, y = tickets
    probe = LinearOutputDtype()
    clf = SharpReCLClassifier(**{**params, **settings}, callbacks=[probe]).fit(X[:64], y[:64])
    return clf, dict(clf.net_.callbacks_)["LinearOutputDtype"].dtype_


def test_auto_is_the_default_and_follows_the_cpu(params, tickets):
    assert SharpReCLClassifier().precision == "auto"
    params = {k: v for k, v in params.items() if k != "precision"}
    clf, dtype = fitted(params, tickets, device="cpu")
    native = bool({"avx512_bf16", "amx_bf16", "bf16"} & cpu_flags())
    assert clf.precision_ == ("bf16" if native else "fp32")
    assert dtype == (torch.bfloat16 if native else torch.float32)
    # Probabilities come back in float64 whatever the forward ran in.
    assert clf.predict_proba(tickets[0][:4]).dtype == "float64"


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_an_explicit_precision_is_kept(params, tickets, precision, dtype):
    clf, seen = fitted(params, tickets, precision=precision)
    assert (clf.precision_, seen) == (precision, dtype)


def test_with_accelerate_precision_is_the_accelerators(params, tickets):
    X, y = tickets
    params = {k: v for k, v in params.items() if k != "precision"}
    clf = SharpReCLClassifier(**params, accelerate=True).fit(X[:64], y[:64])
    assert clf.precision_ == "fp32"
    with pytest.raises(ValueError, match="through the Accelerator"):
        SharpReCLClassifier(**params, accelerate=True, precision="bf16").fit(X[:64], y[:64])


def test_the_chosen_precision_is_saved(params, tickets, tmp_path):
    clf, _ = fitted(params, tickets, precision="bf16")
    clf.save_pretrained(tmp_path / "model")
    assert SharpReCLClassifier.load_pretrained(tmp_path / "model").precision_ == "bf16"


@pytest.mark.parametrize("device, match", [
    ("nonsense", "is not a torch device"),
    pytest.param("cuda", "no CUDA device is available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")),
])
def test_unusable_device_is_refused_before_anything_loads(device, match, tickets):
    X, y = tickets
    # The encoder does not exist: the device error must come first.
    with pytest.raises(ValueError, match=match):
        SharpReCLClassifier(encoder="/no/such/encoder", device=device).fit(X, y)
