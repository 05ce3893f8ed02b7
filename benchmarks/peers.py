"""The methods of the benchmark: our estimator's settings and the peers a practitioner tries.

Every method is built by :func:`make_method` from its name, a seed and the
dataset's ``max_length``; all neural methods share the encoder, batch size,
learning rates and epochs, and the recipe (``methods.neural_settings``, passed
as ``params``) sets their dropout, LR schedule, validation split and early stopping.
"""

import shutil
import tempfile

import numpy as np
import torch
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from sklearn_sharprecl import SharpReCLClassifier
# The frozen-encoder peer embeds exactly as the estimator's network does (the
# same tokenisation, length-sorted padded batches and mean pooling).
from sklearn_sharprecl.nn import PadCollator, TokenizedTexts, pool_hidden_states, tokenize

from .encoders import encoder_path, load_tokenizer, quiet_loading
from .methods import NEURAL, NEURAL_BATCH_SIZE


class FrozenEncoderEmbedder(TransformerMixin, BaseEstimator):
    """Mean-pooled sentence embeddings of a pretrained encoder, no fine-tuning."""

    def __init__(self, encoder=None, max_length=128, batch_size=64):
        self.encoder = encoder
        self.max_length = max_length
        self.batch_size = batch_size

    def fit(self, X, y=None):
        from transformers import AutoModel

        self.tokenizer_ = load_tokenizer(self.encoder)
        with quiet_loading():
            self.model_ = AutoModel.from_pretrained(encoder_path(self.encoder)).eval()
        return self

    def transform(self, X):
        data, restore = TokenizedTexts([tokenize(self.tokenizer_, list(X), self.max_length)]).sorted_by_length()
        loader = torch.utils.data.DataLoader(
            data, batch_size=self.batch_size, collate_fn=PadCollator(self.tokenizer_.pad_token_id)
        )
        out = []
        with torch.inference_mode():
            for batch, _ in loader:
                hidden = self.model_(**batch).last_hidden_state
                out.append(pool_hidden_states(hidden, batch["attention_mask"], "mean"))
        return torch.cat(out).numpy()[restore]


def neural_params(max_length, seed, encoder=None, max_epochs=4):
    """What every neural method of a cell shares (early stopping is the recipe's: it needs
    the recipe's validation split)."""
    return dict(
        encoder=encoder,
        max_length=max_length,
        max_epochs=max_epochs,
        batch_size=NEURAL_BATCH_SIZE,
        random_state=seed,
    )


def make_method(name, seed, max_length, encoder=None, max_epochs=4, params=None):
    """An unfitted estimator for method ``name``; ``params`` override a neural method's settings
    (a recipe, study overrides, ``train_layers``)."""
    if name in NEURAL:
        settings = {**neural_params(max_length, seed, encoder, max_epochs), **NEURAL[name]}
        return SharpReCLClassifier(**{**settings, **(params or {})})
    lr = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
    tfidf = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1)
    if name == "TF-IDF+LR (balanced)":
        return make_pipeline(tfidf, lr)
    plain_lr = LogisticRegression(max_iter=2000, random_state=seed)
    if name == "TF-IDF+LinearSVC (balanced)":
        return make_pipeline(tfidf, LinearSVC(class_weight="balanced", random_state=seed))
    if name == "TF-IDF+ROS+LR":
        return make_imb_pipeline(tfidf, RandomOverSampler(random_state=seed), plain_lr)
    if name == "TF-IDF+SMOTE+LR":
        # k_neighbors=1 keeps SMOTE usable for tail classes of two examples.
        return make_imb_pipeline(tfidf, SMOTE(k_neighbors=1, random_state=seed), plain_lr)
    if name == "TF-IDF+RUS+LR":
        return make_imb_pipeline(tfidf, RandomUnderSampler(random_state=seed), plain_lr)
    if name == "Frozen MiniLM+LR":
        return make_pipeline(FrozenEncoderEmbedder(encoder, max_length), lr)
    if name == "SetFit":
        return SetFitClassifier(encoder=encoder, seed=seed, max_length=max_length,
                                time_budget=params.get("time_budget") if params else None)
    raise ValueError(f"Unknown method {name!r}")


class SetFitClassifier(BaseEstimator):
    """SetFit (contrastive sentence-pair fine-tuning + logistic head) on the same encoder.

    Two regimes:

    - ``time_budget=None`` (the benchmark's ``v1`` rows): one sampling
      iteration per text and one epoch; the library's default pair count is
      ~40x that and does not fit a CPU budget.
    - ``time_budget=seconds`` (the suite study): SetFit's own defaults
      (oversampled pairs, batch 16, body learning rate 2e-5, warm-up 10%)
      with a class-balanced logistic head, trained for the number of steps
      that take ``time_budget`` seconds on this machine: the seconds of a
      step are measured on a few steps first (``calibration_steps``), and
      the schedule then runs over exactly that many steps.
    """

    def __init__(self, encoder=None, seed=0, max_length=64, num_iterations=1, batch_size=16,
                 time_budget=None, calibration_steps=12):
        self.encoder = encoder
        self.seed = seed
        self.max_length = max_length
        self.num_iterations = num_iterations
        self.batch_size = batch_size
        self.time_budget = time_budget
        self.calibration_steps = calibration_steps

    def fit(self, X, y):
        from datasets import Dataset

        # Train on class indices: SetFit's head then predicts indices, which map
        # back to labels of any type (a str(label) round trip would not).
        self.classes_, y_index = np.unique(y, return_inverse=True)
        data = Dataset.from_dict({"text": list(X), "label": [int(i) for i in y_index]})
        if self.time_budget is None:
            self.model_ = self._train(data, num_iterations=self.num_iterations, num_epochs=1)
            return self
        self.seconds_per_step_ = self._seconds_per_step(data)
        self.max_steps_ = max(1, int(self.time_budget / self.seconds_per_step_))
        self.model_ = self._train(data, max_steps=self.max_steps_)
        return self

    def _seconds_per_step(self, data):
        """Median wall time of a training step, from a short run that is then discarded."""
        import time

        from transformers import TrainerCallback

        class StepClock(TrainerCallback):
            def __init__(self):
                self.ends = []

            def on_step_end(self, args, state, control, **kwargs):
                self.ends.append(time.perf_counter())

        clock = StepClock()
        self._train(data, max_steps=self.calibration_steps, callbacks=[clock], fit_head=False)
        return float(np.median(np.diff(clock.ends[1:])))  # the first steps warm caches up

    def _train(self, data, callbacks=None, fit_head=True, **schedule):
        from setfit import SetFitModel, Trainer, TrainingArguments

        head = {"class_weight": "balanced"} if self.time_budget is not None else {}
        model = SetFitModel.from_pretrained(encoder_path(self.encoder), head_params=head)
        model.model_body.max_seq_length = self.max_length  # inference too, as for our models
        # Checkpoints and logs go to a scratch directory: SetFit writes them to
        # ./checkpoints by default, i.e. into whatever directory the user is in.
        scratch = tempfile.mkdtemp(prefix="setfit-")
        args = TrainingArguments(
            output_dir=scratch, logging_dir=scratch, save_strategy="no", report_to="none",
            batch_size=self.batch_size, seed=self.seed, max_length=self.max_length,
            show_progress_bar=False, **schedule,
        )
        trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=callbacks)
        try:
            if fit_head:
                trainer.train()
            else:  # the body's steps only
                trainer.train_embeddings(*trainer.dataset_to_parameters(data), args=args)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return model

    def predict(self, X):
        index = np.asarray(self.model_.predict(list(X), as_numpy=True), dtype=int)
        return self.classes_[index]
