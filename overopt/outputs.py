"""The output registry: which tables and figures a config produces.

The rules take their outputs from here and the figure jobs draw exactly the figures listed,
so a switched-off arm (no extra policy size, no DAA, no reference teacher, one objective)
declares nothing it cannot draw. A new figure is one entry: its name, the paper it belongs to
(the report's category), the job that draws it, the arms it needs, and its drawing function
``draw(tables, stem)`` (``overopt.figures.frames.Tables``).
"""
from __future__ import annotations

from dataclasses import dataclass

GAO = "Gao et al. 2022: scaling laws"  # report categories, one per paper
RAFAILOV = "Rafailov et al. 2024: DAA over-optimization"
WEN = "Wen et al. 2024: accuracy vs downstream"
RAZIN = "Razin et al. 2025: reward variance"
MAO = "Mao et al. 2025: prompt-free reward"
CARD = "The RM report card"
REPLICATION = "Replication scorecard"

TABLES = {  # table -> the job that writes it
    "rm_metrics": "rm_metrics", "curves": "curves", "fits": "fits", "scaling": "fits", "length": "fits", "rm_eval": "rm_eval",
    "correlations": "rm_eval", "report_card": "rm_eval", "predictors": "rm_eval", "headlines": "rm_eval", "role_swap": "role_swap",
    "teachers": "teachers", "teacher_correlations": "teachers", "replication": "replication",
}


def arms(config: dict) -> dict[str, bool]:
    """The optional arms of a study and whether this config runs them."""
    from overopt.targets import REFERENCE, Registry

    objectives = set(config["proxy"]["objectives"])
    return {"policy_sizes": bool(config["policy"]["more_sizes"]), "daa": bool(config["daa"]["losses"]),
            "reference": bool(Registry(config).of_kind(REFERENCE)), "bt_and_pfr": {"bt", "pfr"} <= objectives}


@dataclass(frozen=True)
class Figure:
    name: str
    paper: str
    job: str  # "figures" (study curves and fits) or "rm_figures" (RM-evaluation tables)
    draw: str  # "module:function" under overopt.figures
    needs: tuple = ()  # arms (see arms()) that must be on


FIGURES = [
    Figure("bon_by_rm_size", GAO, "figures", "gao:bon_by_rm_size"),
    Figure("bon_by_data_size", GAO, "figures", "gao:bon_by_data_size"),
    Figure("bon_coefficients", GAO, "figures", "gao:bon_coefficients"),
    Figure("rl_by_rm_size", GAO, "figures", "gao:rl_by_rm_size"),
    Figure("rl_by_kl", GAO, "figures", "gao:rl_by_kl"),
    Figure("rl_gap_by_kl", GAO, "figures", "gao:rl_gap_by_kl"),
    Figure("rl_vs_bon", GAO, "figures", "gao:rl_vs_bon_figure"),
    Figure("rl_by_policy_size", GAO, "figures", "gao:rl_by_policy_size", ("policy_sizes",)),
    Figure("daa_by_loss", RAFAILOV, "figures", "gao:daa_by_loss", ("daa",)),
    Figure("acc_vs_ndr", WEN, "rm_figures", "wen:acc_vs_ndr_figure"),
    Figure("acc_vs_test_size", WEN, "rm_figures", "wen:acc_vs_test_size_figure"),
    Figure("role_swap", WEN, "rm_figures", "wen:role_swap_figure"),
    Figure("variance_vs_gain", RAZIN, "rm_figures", "razin:variance_vs_gain_figure"),
    Figure("flat_teacher", RAZIN, "rm_figures", "razin:flat_teacher_figure", ("reference",)),
    Figure("teachers", RAZIN, "rm_figures", "razin:teachers_figure"),
    Figure("prompt_free", MAO, "rm_figures", "mao:prompt_free_figure"),
    Figure("bt_vs_pfr", MAO, "rm_figures", "mao:bt_vs_pfr_figure", ("bt_and_pfr",)),
    Figure("shift", MAO, "rm_figures", "mao:shift_figure"),
    Figure("report_card", CARD, "rm_figures", "card:report_card_figure"),
    Figure("replication", REPLICATION, "figures", "scorecard:replication_figure"),
]


def figures(config: dict, job: str | None = None) -> list[Figure]:
    """The figures this config draws (of one job, if given), in registry order."""
    on = arms(config)
    return [f for f in FIGURES if (job is None or f.job == job) and all(on[a] for a in f.needs)]


def drawer(name: str):
    """The drawing function of a registered figure."""
    import importlib

    fig = next(f for f in FIGURES if f.name == name)
    module, func = fig.draw.split(":")
    return getattr(importlib.import_module(f"overopt.figures.{module}"), func)
