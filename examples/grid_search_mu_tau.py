"""Grid search over SharpReCL's contrastive weight mu and temperature tau.

``SharpReCLClassifier`` is a plain scikit-learn estimator, so ``GridSearchCV``
tunes it like any other: here the weight ``mu`` of the contrastive loss
(``L = L_CLS + mu * L_CL``) and its temperature ``tau``, scored by macro-F1
on stratified folds of a long-tailed training set. The script prints the
``cv_results_`` table (one row per setting), the best setting, and the
macro-F1 of the refitted best model on a balanced held-out set.

    python examples/grid_search_mu_tau.py --mu 0.5 1.0 --tau 0.3 1.0 --cv 3

uses the packaged all-MiniLM-L6-v2 encoder; the search costs
``len(mu) * len(tau) * cv + 1`` fits.

Each fit is independent, so the search spreads over a Dask cluster through
joblib's Dask backend (``pip install "sklearn-sharprecl[dask]"``)::

    import joblib
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=4, threads_per_worker=1) as cluster, Client(cluster):
        with joblib.parallel_backend("dask"):
            search.fit(X_train, y_train)

``Client("tcp://scheduler:8786")`` connects to an existing cluster instead; the
encoder must then be readable at the same path (or hub id) on every worker.
"""

import argparse
import time

import pandas as pd
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.datasets import make_support_tickets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default=None,
                        help="encoder directory or hub id (default: the packaged MiniLM)")
    parser.add_argument("--n-samples", type=int, default=300, help="training texts (generated)")
    parser.add_argument("--n-test", type=int, default=300, help="balanced test texts (generated)")
    parser.add_argument("--imbalance-ratio", type=float, default=10.0, help="largest / smallest class")
    parser.add_argument("--mu", type=float, nargs="+", default=[0.5, 1.0], help="values of mu to try")
    parser.add_argument("--tau", type=float, nargs="+", default=[0.3, 1.0], help="values of tau to try")
    parser.add_argument("--cv", type=int, default=3, help="stratified folds")
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=32, help="tokens per text")
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel fits (joblib)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X_train, y_train = make_support_tickets(args.n_samples, args.imbalance_ratio, random_state=args.seed)
    X_test, y_test = make_support_tickets(args.n_test, 1.0, random_state=args.seed + 1)

    search = GridSearchCV(
        SharpReCLClassifier(
            encoder=args.encoder,
            max_length=args.max_length,
            max_epochs=args.max_epochs,
            random_state=args.seed,
        ),
        param_grid={"mu": args.mu, "tau": args.tau},
        cv=StratifiedKFold(args.cv, shuffle=True, random_state=args.seed),
        scoring="f1_macro",
        n_jobs=args.n_jobs,
    )
    n_fits = len(args.mu) * len(args.tau) * args.cv + 1
    print(f"{len(X_train)} training texts; {n_fits} fits ({args.cv}-fold CV + refit)")
    start = time.perf_counter()
    search.fit(X_train, y_train)
    seconds = time.perf_counter() - start

    columns = ["param_mu", "param_tau", "mean_test_score", "std_test_score", "rank_test_score",
               "mean_fit_time"]
    table = (
        pd.DataFrame(search.cv_results_)[columns]
        .rename(columns={"mean_test_score": "mean_f1_macro", "std_test_score": "std_f1_macro"})
        .sort_values("rank_test_score")
        .reset_index(drop=True)
    )
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        print(table.to_string(index=False))
    test_f1 = f1_score(y_test, search.predict(X_test), average="macro")
    print(f"\nbest parameters: {search.best_params_} (CV macro-F1 {search.best_score_:.4f})")
    print(f"refitted best model, macro-F1 on the balanced test set: {test_f1:.4f}")
    print(f"search: {seconds:.1f} s")
    return {
        "cv_results": table,
        "best_params": search.best_params_,
        "best_score": float(search.best_score_),
        "test_macro_f1": float(test_f1),
    }


if __name__ == "__main__":
    main()
