"""Public API kept where the docs first named it: the best-of-n estimator lives in
``overopt.metrics.bon``."""
from overopt.metrics.bon import best_of_n, bon_weights, kl_bon, n_grid  # noqa: F401
