"""Public API kept where the docs first named it: the RM-evaluation estimators live in
``overopt.metrics`` (variance, prompt_free, accuracy, ranking, correlate)."""
from overopt.metrics.prompt_free import prompt_free_gap, prompt_free_gaps  # noqa: F401
from overopt.metrics.variance import reward_variance  # noqa: F401
