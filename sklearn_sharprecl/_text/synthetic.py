"""A small, self-contained, long-tailed text corpus: support tickets.

Used by the demo, the examples and the tests so that none of them needs data
from outside the repository. Texts are built from per-class phrase templates
with shared filler, so classes are learnable but not trivially separable by one
keyword.
"""

import numpy as np
from sklearn.utils import check_random_state

_SUBJECTS = {
    "billing": [
        "I was charged twice for my subscription",
        "my invoice shows the wrong amount",
        "the payment on my card went through two times",
        "why did my monthly bill go up",
        "I need a copy of last month's invoice",
        "the tax on my receipt looks wrong",
    ],
    "shipping": [
        "my parcel has not arrived yet",
        "the tracking number does not work",
        "the courier left the package at the wrong address",
        "delivery is two weeks late",
        "can I change the delivery address of my order",
        "the box arrived damaged and open",
    ],
    "technical": [
        "the app crashes when I open settings",
        "I get an error code when I log in",
        "the website is very slow and times out",
        "sync between my phone and laptop stopped working",
        "the update broke the export button",
        "notifications no longer show up on android",
    ],
    "account": [
        "I forgot my password and the reset mail never comes",
        "how do I change the email on my profile",
        "please delete my account and my data",
        "I cannot enable two factor authentication",
        "my username was changed without my consent",
        "how can I merge two accounts",
    ],
    "refund": [
        "I returned the item and still have no refund",
        "I want my money back for the cancelled order",
        "the refund went to an old card",
        "how long does a refund take",
        "you refunded only half of the price",
    ],
    "security": [
        "someone logged into my account from another country",
        "I received a phishing mail that looks like yours",
        "there are purchases on my account I did not make",
        "my account was hacked and the password changed",
    ],
}
_OPENERS = ["hello,", "hi team,", "good morning,", "", "hey,", "dear support,", "urgent:"]
_CLOSERS = [
    "thanks", "please help", "any update?", "", "thank you in advance",
    "this is frustrating", "regards", "can you check?",
]
_FILLER = [
    "", "since yesterday", "again", "for the third time", "on my new account",
    "after the last update", "this week", "for order 4411",
]


def make_support_tickets(n_samples=400, imbalance_ratio=20.0, random_state=0):
    """Long-tailed support-ticket texts with six classes.

    Class sizes follow the exponential profile ``n_max * ir ** (-i / (C - 1))``
    used for the paper's imbalanced benchmarks.

    Parameters
    ----------
    n_samples : int, default=400
        Approximate total number of texts.
    imbalance_ratio : float, default=20.0
        Size of the largest class over the smallest.
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    texts : list of str
    labels : ndarray of str

    Examples
    --------
    >>> from sklearn_sharprecl.datasets import make_support_tickets
    >>> texts, labels = make_support_tickets(200, random_state=0)
    >>> sorted(set(labels.tolist()))[:2]
    ['account', 'billing']
    """
    rng = check_random_state(random_state)
    classes = list(_SUBJECTS)
    profile = imbalance_ratio ** (-np.arange(len(classes)) / (len(classes) - 1))
    sizes = np.maximum(1, np.rint(profile / profile.sum() * n_samples).astype(int))
    labels = np.repeat(classes, sizes)
    texts = [
        " ".join(
            part
            for part in (
                _OPENERS[rng.randint(len(_OPENERS))],
                _SUBJECTS[c][rng.randint(len(_SUBJECTS[c]))],
                _FILLER[rng.randint(len(_FILLER))],
                _CLOSERS[rng.randint(len(_CLOSERS))],
            )
            if part
        )
        for c in labels
    ]
    order = rng.permutation(len(labels))
    return [texts[i] for i in order], labels[order]
