# overopt: reward-model over-optimization, end to end (see README.md and docs/).
#   world -> reference pool -> gold labels -> proxy RMs -> best-of-n, RL, direct alignment
#   -> tables and fits -> RM evaluation -> figures and report
import sys

from snakemake.utils import min_version

min_version("9.0")
sys.path.insert(0, workflow.basedir)  # the overopt package (jobs: workflow/scripts/_package.py)

from overopt import config as study_config
from overopt import deps
from overopt import prefork
from overopt import scheduler_fix

scheduler_fix.install()  # one re-planning timer, not one per finished job (overopt/scheduler_fix.py)


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


study_config.validate(config)  # schema + cross-key checks, before any job is planned


include: "workflow/rules/common.smk"
include: "workflow/rules/world.smk"
include: "workflow/rules/reference.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/rms.smk"
include: "workflow/rules/bon.smk"
include: "workflow/rules/rl.smk"
include: "workflow/rules/daa.smk"
include: "workflow/rules/role_swap.smk"
include: "workflow/rules/teachers.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/rm_eval.smk"
include: "workflow/rules/figures.smk"


onstart:
    prefork.start(workflow.is_main_process and workflow.local_exec)  # torch imported once per run


onsuccess:
    prefork.stop()


onerror:
    prefork.stop()


rule all:
    input:
        TABLES,
        FIGURES,
    default_target: True
