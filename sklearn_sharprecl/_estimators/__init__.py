"""The scikit-learn estimators and what only they use.

SharpReCLClassifier, the CALoRA classifier, their shared mixin, routed
parameters and the label-shift prior. The numpy-only scores and decision-prior
shift they share with :mod:`sklearn_sharprecl.deploy` live in
:mod:`sklearn_sharprecl._shared`.
"""
