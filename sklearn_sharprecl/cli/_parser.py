"""The ``sharprecl`` argument parser: one builder per command."""

# License: BSD 3 clause

import argparse
import json

from ._commands import _ESTIMATE, _NONE, _cmd_evaluate, _cmd_fit, _cmd_predict
from ._errors import PROG
from ._info import _cmd_info

_PRIORS = ("balanced", "train", "none")
_PRIOR_HELP = ("class prior of the texts to predict, applied by Bayes' rule: 'balanced' "
               "(uniform), 'train' (the training class frequencies) or 'none' (the "
               "posterior the loss estimates: balanced for the default loss)")
_ESTIMATE_HELP = ("; 'estimate': the prior of DATA's texts, estimated by EM from the "
                  "model's probabilities (no label is read; one extra pass over DATA)")
_MODEL_HELP = ("model directory written by 'fit', or a .joblib/.pkl file holding a "
               "SharpReCLClassifier or CALoRAClassifier (a pickle: load only files you trust)")


def _number_or_none(text):
    """A number, or 'none' for None (the estimator checks the range)."""
    if text.lower() == _NONE:
        return _NONE
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def _setting(text):
    """``NAME=VALUE`` of ``--set`` as ``(NAME, value)``: VALUE read as JSON, else as text."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def _add_data_arguments(parser, *, labels, text_help="column holding the texts"):
    parser.add_argument("--text-column", default="text", metavar="COL",
                        help=f"{text_help} (default: %(default)s)")
    if labels:
        parser.add_argument("--label-column", default="label", metavar="COL",
                            help="column holding the labels (default: %(default)s)")


_MODELS_PRIOR = "the model's; not for a CALoRAClassifier"


def _add_label_separator(parser, help):
    parser.add_argument("--label-separator", metavar="SEP", help=help)


def _add_decision_prior(parser, default, estimate=False):
    """--decision-prior; ``estimate``: also 'estimate' (predict and evaluate, which have texts)."""
    parser.add_argument("--decision-prior", choices=_PRIORS + ((_ESTIMATE,) if estimate else ()),
                        help=f"{_PRIOR_HELP}{_ESTIMATE_HELP if estimate else ''} (default: {default})")


def _add_fit_command(commands, data_help):
    """The ``fit`` subcommand: its options map onto SharpReCLClassifier parameters."""
    fit = commands.add_parser(
        "fit", help="fine-tune a classifier on a labelled data file and save it",
        description="Fine-tune a SharpReCLClassifier on the texts and labels of DATA and "
                    "write the fitted model to --model. Options left out keep the "
                    "estimator's defaults (shown); --set gives any other setting. The "
                    "estimator checks the values: one it refuses is an error (exit status "
                    "1). The model is saved as a directory of "
                    "safetensors weights and JSON, safe to share and to load; a name "
                    "ending in .joblib or .pkl gives a pickle instead, which runs code "
                    "when loaded: load only pickles you trust. Ctrl-C stops training "
                    "without replacing --model (exit status 130).",
    )
    fit.add_argument("data", metavar="DATA", help=data_help)
    fit.add_argument("--model", "-o", required=True, metavar="OUT",
                     help="where to write the fitted model: a directory in the safe "
                          "safetensors+JSON format (e.g. model/; an existing one must be "
                          "empty or hold a saved model, which is replaced), or a joblib "
                          "pickle if the name ends in .joblib or .pkl")
    _add_data_arguments(fit, labels=True)
    fit.add_argument("--validation", metavar="FILE",
                     help="a labelled data file (same columns as DATA) to choose the best "
                          "epoch and stop early on, instead of a --validation-fraction split")
    _add_label_separator(fit, "multi-label data: each label cell holds a text's label names "
                              "joined by SEP (e.g. ';'); an empty cell is a text without a "
                              "label. The model then predicts every label that reaches its "
                              "threshold")
    fit.add_argument("--aug-column", metavar="COL",
                     help="column with a precomputed augmented view of each text "
                          "(the contrastive second view; overrides --augment)")
    _add_model_options(fit.add_argument_group("model options"))
    fit.add_argument("-v", "--verbose", action="count", default=0,
                     help="print the per-epoch training log and progress bars (without "
                          "colours and bars where the output is not a terminal)")
    fit.set_defaults(handler=_cmd_fit)


def _add_model_options(hyper):
    """fit's options for SharpReCLClassifier parameters; their values are the estimator's to check."""
    from .._estimators.classifier import SharpReCLClassifier
    from ..auto import FEW_CLASSES, FEW_TEXTS_PER_CLASS

    defaults = SharpReCLClassifier().get_params()
    hyper.add_argument("--encoder", metavar="PATH",
                       help="local transformer directory or hub id (default: the "
                            "packaged all-MiniLM-L6-v2, offline)")
    hyper.add_argument("--max-epochs", type=int, metavar="N",
                       help="training epochs (fewer only with early stopping on a "
                            f"--validation-fraction split) (default: {defaults['max_epochs']})")
    hyper.add_argument("--mu", type=float,
                       help=f"weight of the contrastive loss (default: {defaults['mu']})")
    hyper.add_argument("--tau", type=float,
                       help=f"contrastive temperature (default: {defaults['tau']})")
    hyper.add_argument("--max-length", type=int, metavar="TOKENS",
                       help=f"truncate texts to this many tokens (default: "
                            f"{defaults['max_length']})")
    hyper.add_argument("--truncation", metavar="MODE",
                       help="what of a longer text is kept: 'head', its first --max-length "
                            "tokens; 'head_tail', the first quarter and last three quarters of "
                            "them; 'chunks', every token, in windows whose features are pooled "
                            f"(default: {defaults['truncation']})")
    hyper.add_argument("--train-layers", type=int, metavar="K",
                       help="train only the top K transformer blocks; the frozen ones run once "
                            "per fit (default: all)")
    hyper.add_argument("--head-init", metavar="INIT",
                       help="start the classifier at 'random', from a 'linear_probe' fitted "
                            "to the encoder's features of DATA, or 'auto': the probe when the "
                            f"rarest class has fewer than {FEW_TEXTS_PER_CLASS} texts (default: "
                            f"{defaults['head_init']})")
    hyper.add_argument("--batch-size", type=int, metavar="N",
                       help=f"texts per training step (default: {defaults['batch_size']})")
    hyper.add_argument("--lr", type=float,
                       help=f"encoder learning rate (default: {defaults['lr']})")
    hyper.add_argument("--validation-fraction", type=_number_or_none, metavar="FRACTION",
                       help="share of each class held out for early stopping and best-epoch "
                            "selection, or 'none': train on every text and keep the last epoch "
                            "(default: none)")
    hyper.add_argument("--random-state", type=int, metavar="SEED",
                       help="seed for a reproducible fit (default: none)")
    hyper.add_argument("--contrastive", metavar="BRANCH",
                       help="contrastive branch: sharp, supcon, none, or auto: sharp with "
                            f"fewer than {FEW_CLASSES} classes, none otherwise (default: "
                            f"{defaults['contrastive']})")
    hyper.add_argument("--augment", metavar="PRESET",
                       help="second view of the contrastive branch: none (one encoder pass), "
                            "dropout, wordnet, random_swap, random_delete or "
                            f"contextual:<mlm-path> (default: {str(defaults['augment']).lower()})")
    hyper.add_argument("--device", help=f"torch device, e.g. cpu or cuda (default: "
                                        f"{defaults['device']})")
    _add_decision_prior(hyper, default="none; predict and evaluate can override it")
    hyper.add_argument("--set", type=_setting, action="append", default=[], dest="settings",
                       metavar="NAME=VALUE",
                       help="any other estimator setting, repeatable: a routed one such as "
                            "criterion__n_neg=200, module__proj_dim=64, "
                            "optimizer__weight_decay=0.01 or callbacks__lr_schedule=null (a "
                            "constant learning rate), or e.g. head_lr=null, precision=auto. "
                            "VALUE is read as JSON (numbers, true, false, null), else as text; "
                            "SharpReCLClassifier.routed_parameters() lists the routed names "
                            "with their defaults")


_PROGRESS_HELP = "show a progress bar on stderr (shown anyway when stderr is a terminal)"
_DATA_HELP = ("data file: .csv, .tsv, .jsonl (JSON lines) or .json (JSON lines, "
              "or an array of records), one text per row")


def build_parser():
    """The ``sharprecl`` argument parser."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="SharpReCL transformer text classification for imbalanced classes: "
                    "fit a model on labelled texts, predict, evaluate, inspect.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command. Exit status: "
               "0 success, 1 data or model error, 2 usage error, 130 interrupted (Ctrl-C).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="on a data or model error, show the full Python traceback")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_fit_command(commands, _DATA_HELP)
    _add_predict_command(commands)
    _add_evaluate_command(commands)
    _add_info_command(commands)
    return parser


def _add_predict_command(commands):
    predict = commands.add_parser(
        "predict", help="predict the classes of the texts of a data file",
        description="Write the rows of DATA with a 'prediction' column and one "
                    "'proba_<class>' column per class (the columns sum to 1; for a "
                    "multi-label model, each label's probability, and the prediction "
                    "is the labels that reach their thresholds, joined by "
                    "--label-separator).",
    )
    predict.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    predict.add_argument("data", metavar="DATA", help=_DATA_HELP)
    predict.add_argument("--output", "-o", required=True, metavar="OUT",
                         help="output file: .csv, .tsv or .jsonl, never the input file; "
                              "'-' writes CSV to stdout")
    predict.add_argument("--force", "-f", action="store_true",
                         help="overwrite OUT if it exists")
    _add_data_arguments(predict, labels=False)
    _add_label_separator(predict, "for a multi-label model: joins the predicted labels of "
                                  "each text (default: ';')")
    _add_decision_prior(predict, default=_MODELS_PRIOR, estimate=True)
    predict.add_argument("-v", "--verbose", action="count", default=0, help=_PROGRESS_HELP)
    predict.set_defaults(handler=_cmd_predict)


def _add_evaluate_command(commands):
    evaluate = commands.add_parser(
        "evaluate", help="score a model on a labelled data file; write plots and metrics",
        # Wrapped by hand: argparse would break the pip line at its hyphen.
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Predict the texts of DATA, print imbalanced-learn's per-class report\n"
                    "and the macro-F1, and write f1_by_class.png, confusion_matrix.png,\n"
                    "training_curves.png, embeddings.png, report.txt and metrics.json\n"
                    "to --output-dir.\n\n"
                    "Needs matplotlib: pip install 'sklearn-sharprecl[plots]'",
    )
    evaluate.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    evaluate.add_argument("data", metavar="DATA",
                          help=_DATA_HELP + "; use texts the model was not trained on")
    evaluate.add_argument("--output-dir", "-o", required=True, metavar="DIR",
                          help="folder for the report files (created if needed)")
    evaluate.add_argument("--force", "-f", action="store_true",
                          help="overwrite report files already in DIR")
    _add_data_arguments(evaluate, labels=True)
    _add_label_separator(evaluate, "for a multi-label model: splits each label cell into "
                                   "label names (default: ';'); the report is then per label, "
                                   "without plots")
    _add_decision_prior(evaluate, default=_MODELS_PRIOR, estimate=True)
    evaluate.add_argument("--embeddings", choices=("pca", "tsne"), default="pca",
                          help="2-D projection of embeddings.png (default: %(default)s)")
    evaluate.add_argument("-v", "--verbose", action="count", default=0, help=_PROGRESS_HELP)
    evaluate.set_defaults(handler=_cmd_evaluate)


def _add_info_command(commands):
    info = commands.add_parser(
        "info", help="show a model's classes, encoder, parameters and library versions",
        description="Show the model's class, its classes and their training counts, the "
                    "encoder, the training epochs, the estimator parameters and the "
                    "installed library versions; for a CALoRAClassifier also its rank, "
                    "top_k and the parameters of its base.",
    )
    info.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    info.add_argument("--json", action="store_true", help="print the information as JSON")
    info.set_defaults(handler=_cmd_info)
