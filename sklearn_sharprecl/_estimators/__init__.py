"""The scikit-learn estimators and what only they use.

SharpReCLClassifier, the CALoRA classifier, their shared mixin, routed
parameters, the label-shift prior and the numpy-only decision scores.
Nothing is imported here: :mod:`sklearn_sharprecl.deploy` imports
:mod:`~sklearn_sharprecl._estimators.scores` and must not pull in torch with
this package.
"""
