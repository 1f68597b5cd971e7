"""The flat teacher (Razin et al.): same rankings as its RM within every prompt, scores shrunk
by the factor on a fixed half of the prompts."""
import numpy as np
import pytest

from overopt.teachers import Transformed, flat_half, transform


class _Fixed:
    def scores(self, prompts, responses, progress=None):
        return np.array([float(len(r)) for r in responses])


def test_flat_half_is_fixed_and_about_half():
    prompts = [f"w{i:02d} w{i + 1:02d} " for i in range(400)]
    half = flat_half(prompts)
    assert (half == flat_half(prompts)).all() and 0.4 < half.mean() < 0.6


def test_flat_teacher_shrinks_flagged_prompts_only():
    prompts = [f"p{i} " for i in range(50) for _ in range(3)]
    responses = ["a", "bbb", "cc"] * 50
    s, base = Transformed(_Fixed(), {"flat": 0.1}).scores(prompts, responses), _Fixed().scores(prompts, responses)
    half = flat_half(prompts)
    assert np.allclose(s[half], 0.1 * base[half]) and np.array_equal(s[~half], base[~half])
    assert (np.argsort(s.reshape(50, 3), 1) == np.argsort(base.reshape(50, 3), 1)).all()  # rankings kept


def test_transform_of_a_score_table_matches_the_teacher():
    """``transform`` on [prompts, k] scores (one prompt per row) is the teacher's per-response scores."""
    prompts = [f"p{i} " for i in range(50)]
    responses = ["a", "bbb", "cc"]
    base = _Fixed().scores([p for p in prompts for _ in responses], responses * 50).reshape(50, 3)
    teacher = Transformed(_Fixed(), {"flat": 0.1}).scores([p for p in prompts for _ in responses], responses * 50)
    assert np.array_equal(transform(base, prompts, {"flat": 0.1}), teacher.reshape(50, 3))
    with pytest.raises(ValueError, match="transform"):
        transform(base, prompts, {"sharp": 2.0})
