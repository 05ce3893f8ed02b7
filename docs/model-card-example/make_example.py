"""Write the example model card of docs/persistence.md from a model fitted here.

Fits a small model on the synthetic support tickets with the packaged
all-MiniLM-L6-v2, saves it, and keeps its ``config.json`` and ``history.json``
(the saved state the card is generated from, without the weights) and the
``README.md`` that ``save_pretrained`` wrote next to this script. The encoder's
path on this machine in ``config.json`` is replaced by its name (the card
names the packaged encoder by its Hub id whatever its path). The test suite
regenerates the card from the two JSON files and compares it with README.md,
so a change of the card's generator shows up as a failing test until this
script is run again::

    python docs/model-card-example/make_example.py
"""

import json
import shutil
import tempfile
from pathlib import Path

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.datasets import make_support_tickets

HERE = Path(__file__).resolve().parent

texts, labels = make_support_tickets(n_samples=300, imbalance_ratio=10, random_state=0)
clf = SharpReCLClassifier(max_epochs=3, max_length=32, validation_fraction=0.2,
                          random_state=0).fit(texts, labels)
with tempfile.TemporaryDirectory() as folder:
    saved = clf.save_pretrained(Path(folder) / "model")
    for name in ("history.json", "README.md"):
        shutil.copyfile(saved / name, HERE / name)
    config = json.loads((saved / "config.json").read_text())
    config["encoder_name"] = "all-MiniLM-L6-v2 (packaged)"
    (HERE / "config.json").write_text(json.dumps(config, indent=2) + "\n")
