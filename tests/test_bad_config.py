"""Nothing wrong passes silently: each overlay below, deep-merged onto config.yaml + the tiny preset
as Snakemake's --configfile does (mappings merge, lists replace), is rejected by validate() with
one line naming the key, and leaves the config it was given untouched. Pure Python, seconds."""
import copy
import math

import pytest
import yaml

from overopt import config as C

NAN, INF = float("nan"), float("inf")
XS = {"n_embd": 8, "n_layer": 1, "n_head": 2}


def overlay(base: dict, over: dict) -> dict:
    """``over`` deep-merged onto a copy of ``base``: mappings merge, everything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = overlay(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


@pytest.fixture(scope="module")
def tiny(root):
    load = lambda p: yaml.safe_load((root / p).read_text())  # noqa: E731
    return overlay(load("config.yaml"), load("config/presets/tiny.yaml"))


def sizes(*entries):
    """A proxy.sizes list: the tiny preset's two sizes with the first replaced by ``entries``."""
    return {"proxy": {"sizes": [*entries, {"name": "s", "arch": {"n_embd": 16, "n_layer": 1, "n_head": 2}}]}}


BAD = {
    # wrong types
    "seed as text": ({"seed": "zero"}, "seed"),
    "seed as bool": ({"seed": True}, "seed"),
    "response_len as text": ({"response_len": "16"}, "response_len"),
    "trust_remote_code as text": ({"trust_remote_code": "yes"}, "trust_remote_code"),
    "world as number": ({"world": 5}, "world"),
    "policy as list": ({"policy": [1]}, "policy"),
    "world.prompts as list": ({"world": {"prompts": [1, 2]}}, "world.prompts"),
    "policy.arch as text": ({"policy": {"arch": "small"}}, "policy.arch"),
    "policy.more_sizes as mapping": ({"policy": {"more_sizes": {"name": "x"}}}, "policy.more_sizes"),
    "proxy.sizes as text": ({"proxy": {"sizes": "xs"}}, "proxy.sizes"),
    "proxy.data_sizes as number": ({"proxy": {"data_sizes": 200}}, "proxy.data_sizes"),
    "rl.algorithms as text": ({"rl": {"algorithms": "rloo"}}, "rl.algorithms"),
    "rl.kl_coefs text item": ({"rl": {"kl_coefs": ["0.1"]}}, "rl.kl_coefs[0]"),
    "labels.mode as number": ({"labels": {"mode": 1}}, "labels.mode"),
    "daa.proxy as number": ({"daa": {"proxy": 3}}, "daa.proxy"),
    "bon.N as text": ({"bon": {"N": "many"}}, "bon.N"),
    "fit.level as text": ({"fit": {"level": "95%"}}, "fit.level"),
    "policy.name_or_path empty": ({"policy": {"name_or_path": ""}}, "policy.name_or_path"),
    "gold.initializer_range null": ({"gold": {"initializer_range": None}}, "gold.initializer_range"),
    "rm_eval.flat_factor as text": ({"rm_eval": {"flat_factor": "off"}}, "rm_eval.flat_factor"),
    "checkpoint_steps negative": ({"checkpoint_steps": -1}, "checkpoint_steps"),
    "proxy.data_sizes negative": ({"proxy": {"data_sizes": [-5]}}, "proxy.data_sizes[0]"),
    # NaN and inf (Python floats and YAML's .nan / .inf)
    "rl.train.learning_rate nan": ({"rl": {"train": {"learning_rate": NAN}}}, "rl.train.learning_rate"),
    "rl.train.learning_rate yaml .nan": (yaml.safe_load("rl: {train: {learning_rate: .nan}}"),
                                         "rl.train.learning_rate"),
    "rl.kl_coefs inf": ({"rl": {"kl_coefs": [0.1, INF]}}, "rl.kl_coefs[1]"),
    "rl.kl_coefs yaml .inf": (yaml.safe_load("rl: {kl_coefs: [.inf]}"), "rl.kl_coefs[0]"),
    "daa.betas nan": ({"daa": {"betas": [NAN]}}, "daa.betas[0]"),
    "daa.fractions nan": ({"daa": {"fractions": [0.25, NAN]}}, "daa.fractions[1]"),
    "world.stop_max nan": ({"world": {"stop_max": NAN}}, "world.stop_max"),
    "gold.initializer_range inf": ({"gold": {"initializer_range": INF}}, "gold.initializer_range"),
    "labels.flip_rate nan": ({"labels": {"flip_rate": NAN}}, "labels.flip_rate"),
    "proxy.pfr.tau inf": ({"proxy": {"pfr": {"tau": INF}}}, "proxy.pfr.tau"),
    "proxy.train.warmup_ratio nan": ({"proxy": {"train": {"warmup_ratio": NAN}}}, "proxy.train.warmup_ratio"),
    "policy.train.max_grad_norm inf": ({"policy": {"train": {"max_grad_norm": INF}}}, "policy.train.max_grad_norm"),
    "policy.train.num_train_epochs inf": ({"policy": {"train": {"num_train_epochs": INF}}},
                                          "policy.train.num_train_epochs"),
    "daa.train.weight_decay yaml .inf": (yaml.safe_load("daa: {train: {weight_decay: .inf}}"),
                                         "daa.train.weight_decay"),
    "rm_eval.kl_budget inf": ({"rm_eval": {"kl_budget": INF}}, "rm_eval.kl_budget"),
    "rm_eval.flat_factor nan": ({"rm_eval": {"flat_factor": NAN}}, "rm_eval.flat_factor"),
    "fit.level nan": ({"fit": {"level": NAN}}, "fit.level"),
    "bon.N nan": ({"bon": {"N": NAN}}, "bon.N"),
    "rl.steps inf": ({"rl": {"steps": INF}}, "rl.steps"),
    # integer keys take ints only: integer-valued floats are rejected
    "rl.steps 6.0": ({"rl": {"steps": 6.0}}, "rl.steps"),
    "bon.N 256.0": ({"bon": {"N": 256.0}}, "bon.N"),
    "proxy.data_sizes [200.0]": ({"proxy": {"data_sizes": [200.0]}}, "proxy.data_sizes[0]"),
    "seed 0.0": ({"seed": 0.0}, "seed"),
    "response_len 1e9 float": ({"response_len": 1e9}, "response_len"),
    "world.vocab_size 60.0": ({"world": {"vocab_size": 60.0}}, "world.vocab_size"),
    "world.prompts.eval 24.0": ({"world": {"prompts": {"eval": 24.0}}}, "world.prompts.eval"),
    "policy.arch.n_embd 32.0": ({"policy": {"arch": {"n_embd": 32.0}}}, "policy.arch.n_embd"),
    "proxy.sizes[0].arch.n_layer 1.0": (sizes({"name": "xs", "arch": {**XS, "n_layer": 1.0}}),
                                        "proxy.sizes[0].arch.n_layer"),
    "policy.more_sizes[0].arch.n_head 2.0": ({"policy": {"more_sizes": [
        {"name": "large", "arch": {"n_embd": 48, "n_layer": 1, "n_head": 2.0}}]}}, "policy.more_sizes[0].arch.n_head"),
    "rl.seeds [0.0]": ({"rl": {"seeds": [0.0]}}, "rl.seeds[0]"),
    "daa.train.num_train_epochs 2.0": ({"daa": {"train": {"num_train_epochs": 2.0}}}, "daa.train.num_train_epochs"),
    "daa.train.num_train_epochs 1.5": ({"daa": {"train": {"num_train_epochs": 1.5}}}, "daa.train.num_train_epochs"),
    "daa.data_size 200.0": ({"daa": {"data_size": 200.0}}, "daa.data_size"),
    "rm_eval.rl_step 2.0": ({"rm_eval": {"rl_step": 2.0}}, "rm_eval.rl_step"),
    "rm_eval.test_sizes [20.0]": ({"rm_eval": {"test_sizes": [20.0]}}, "rm_eval.test_sizes[0]"),
    "proxy.train batch 32.0": ({"proxy": {"train": {"per_device_train_batch_size": 32.0}}},
                               "proxy.train.per_device_train_batch_size"),
    "proxy.pfr.data_sizes [200.0]": ({"proxy": {"pfr": {"data_sizes": [200.0]}}}, "proxy.pfr.data_sizes[0]"),
    "rl.train.logging_steps 2.0": ({"rl": {"train": {"logging_steps": 2.0}}}, "rl.train.logging_steps"),
    # unknown or misspelled keys at every level
    "top level": ({"typo_key": 1}, "typo_key"),
    "world": ({"world": {"vocab": 60}}, "world.vocab"),
    "world.prompts": ({"world": {"prompts": {"evals": 24}}}, "world.prompts.evals"),
    "world.prompt_dataset": ({"world": {"prompt_dataset": {"path": "x"}}}, "world.prompt_dataset.path"),
    "policy": ({"policy": {"nme": "small"}}, "policy.nme"),
    "policy.arch": ({"policy": {"arch": {"n_inner": 64}}}, "policy.arch.n_inner"),
    "policy.train": ({"policy": {"train": {"learning_rat": 0.1}}}, "policy.train.learning_rat"),
    "policy.more_sizes[0]": ({"policy": {"more_sizes": [{"name": "large", "arch": XS, "seed": 1}]}},
                             "policy.more_sizes[0].seed"),
    "gold": ({"gold": {"init_range": 0.1}}, "gold.init_range"),
    "gold.arch": ({"gold": {"arch": {"layers": 2}}}, "gold.arch.layers"),
    "labels": ({"labels": {"flip": 0.1}}, "labels.flip"),
    "proxy": ({"proxy": {"size": []}}, "proxy.size"),
    "proxy.sizes[1]": ({"proxy": {"sizes": [{"name": "xs", "arch": XS}, {"name": "s", "arch": XS, "depth": 3}]}},
                       "proxy.sizes[1].depth"),
    "proxy.sizes[0].arch": (sizes({"name": "xs", "arch": {**XS, "n_ctx": 8}}), "proxy.sizes[0].arch.n_ctx"),
    "proxy.pfr": ({"proxy": {"pfr": {"temperature": 1.0}}}, "proxy.pfr.temperature"),
    "proxy.train": ({"proxy": {"train": {"epochs": 1}}}, "proxy.train.epochs"),
    "rl": ({"rl": {"kl_coef": [0.1]}}, "rl.kl_coef"),
    "rl.train": ({"rl": {"train": {"batch_size": 16}}}, "rl.train.batch_size"),
    "daa": ({"daa": {"beta": [0.1]}}, "daa.beta"),
    "daa.train": ({"daa": {"train": {"lr": 0.1}}}, "daa.train.lr"),
    "rm_eval": ({"rm_eval": {"nboot": 100}}, "rm_eval.nboot"),
    "bon": ({"bon": {"n": 32}}, "bon.n"),
    "fit": ({"fit": {"levels": 0.9}}, "fit.levels"),
    # missing required entries
    "proxy.sizes[0] without name": (sizes({"arch": XS}), "proxy.sizes[0]"),
    "proxy.sizes[0].arch without n_head": (sizes({"name": "xs", "arch": {"n_embd": 8, "n_layer": 1}}),
                                           "proxy.sizes[0].arch"),
    # empty lists
    "proxy.sizes []": ({"proxy": {"sizes": []}}, "proxy.sizes"),
    "proxy.data_sizes []": ({"proxy": {"data_sizes": []}}, "proxy.data_sizes"),
    "proxy.seeds []": ({"proxy": {"seeds": []}}, "proxy.seeds"),
    "proxy.objectives []": ({"proxy": {"objectives": []}}, "proxy.objectives"),
    "proxy.pfr.data_sizes []": ({"proxy": {"pfr": {"data_sizes": []}}}, "proxy.pfr.data_sizes"),
    "rl.algorithms []": ({"rl": {"algorithms": []}}, "rl.algorithms"),
    "rl.objectives []": ({"rl": {"objectives": []}}, "rl.objectives"),
    "rl.kl_coefs []": ({"rl": {"kl_coefs": []}}, "rl.kl_coefs"),
    "rl.seeds []": ({"rl": {"seeds": []}}, "rl.seeds"),
    "daa.betas []": ({"daa": {"betas": []}}, "daa.betas"),
    "daa.seeds []": ({"daa": {"seeds": []}}, "daa.seeds"),
    "daa.fractions []": ({"daa": {"fractions": []}}, "daa.fractions"),
    "rm_eval.test_sizes []": ({"rm_eval": {"test_sizes": []}}, "rm_eval.test_sizes"),
    "policy.more_sizes_targets [] with more_sizes": ({"policy": {"more_sizes_targets": []}},
                                                     "policy.more_sizes_targets"),
    # duplicate list values
    "proxy.data_sizes dup": ({"proxy": {"data_sizes": [200, 200]}}, "proxy.data_sizes"),
    "proxy.seeds dup": ({"proxy": {"seeds": [0, 0]}}, "proxy.seeds"),
    "proxy.extra_seeds.seeds dup": ({"proxy": {"extra_seeds": {"seeds": [1, 1]}}}, "proxy.extra_seeds.seeds"),
    "proxy.extra_seeds.seeds in proxy.seeds": ({"proxy": {"seeds": [0, 1]}}, "proxy.extra_seeds.seeds"),
    "proxy.extra_seeds.data_sizes off the grid": ({"proxy": {"data_sizes": [600]}}, "proxy.extra_seeds.data_sizes"),
    "proxy.objectives dup": ({"proxy": {"objectives": ["bt", "pfr", "bt"]}}, "proxy.objectives"),
    "proxy.sizes names dup": ({"proxy": {"sizes": [{"name": "xs", "arch": XS}, {"name": "xs", "arch": XS}]}},
                              "proxy.sizes"),
    "rl.algorithms dup": ({"rl": {"algorithms": ["rloo", "rloo"]}}, "rl.algorithms"),
    "rl.kl_coefs dup": ({"rl": {"kl_coefs": [0.1, 0.1]}}, "rl.kl_coefs"),
    "rl.seeds dup": ({"rl": {"seeds": [1, 1]}}, "rl.seeds"),
    "daa.losses dup": ({"daa": {"losses": ["dpo", "dpo"]}}, "daa.losses"),
    "daa.betas dup": ({"daa": {"betas": [0.1, 0.1]}}, "daa.betas"),
    "daa.seeds dup": ({"daa": {"seeds": [0, 0]}}, "daa.seeds"),
    "daa.fractions dup": ({"daa": {"fractions": [0.25, 0.25]}}, "daa.fractions"),
    "rm_eval.test_sizes dup": ({"rm_eval": {"test_sizes": [20, 20]}}, "rm_eval.test_sizes"),
    "policy.more_sizes_targets dup": ({"policy": {"more_sizes_targets": ["gold", "gold"]}},
                                      "policy.more_sizes_targets"),
    "policy.more_sizes name = policy.name": ({"policy": {"more_sizes": [{"name": "small", "arch": XS}]}},
                                             "policy.more_sizes"),
    # grid numbers that would share a run path, or not read back as configured
    "rl.kl_coefs same path": ({"rl": {"kl_coefs": [0.1, 0.1000001]}}, "rl.kl_coefs"),
    "daa.betas same path": ({"daa": {"betas": [0.1, 0.10000001]}}, "daa.betas"),
    "rl.kl_coefs 7 digits": ({"rl": {"kl_coefs": [0.1234567]}}, "rl.kl_coefs"),
    "rl.kl_coefs 1e7 (1e+07 path)": ({"rl": {"kl_coefs": [1e7]}}, "rl.kl_coefs"),
    "daa.betas 7 digits": ({"daa": {"betas": [1.0000001]}}, "daa.betas"),
    # names that are not one path component
    "proxy size name with /": (sizes({"name": "x/y", "arch": XS}), "proxy.sizes[0].name"),
    "proxy size name ..": (sizes({"name": "..", "arch": XS}), "proxy.sizes[0].name"),
    "proxy size name empty": (sizes({"name": "", "arch": XS}), "proxy.sizes[0].name"),
    "policy.name with /": ({"policy": {"name": "a/b"}}, "policy.name"),
    "policy.name ..": ({"policy": {"name": ".."}}, "policy.name"),
    "policy.more_sizes name ../x": ({"policy": {"more_sizes": [{"name": "../x", "arch": XS}]}},
                                    "policy.more_sizes[0].name"),
    # unknown enum values
    "labels.mode soft": ({"labels": {"mode": "soft"}}, "labels.mode"),
    "rl.algorithms reinforce": ({"rl": {"algorithms": ["reinforce"]}}, "rl.algorithms[0]"),
    "rl.objectives dpo": ({"rl": {"objectives": ["dpo"]}}, "rl.objectives[0]"),
    "proxy.objectives ce": ({"proxy": {"objectives": ["ce"]}}, "proxy.objectives[0]"),
    "daa.losses kto": ({"daa": {"losses": ["kto"]}}, "daa.losses[0]"),
    "lr_scheduler_type exp": ({"proxy": {"train": {"lr_scheduler_type": "exp"}}}, "proxy.train.lr_scheduler_type"),
    # out of range
    "labels.flip_rate 0.7": ({"labels": {"flip_rate": 0.7}}, "labels.flip_rate"),
    "daa.fractions [1.5]": ({"daa": {"fractions": [1.5]}}, "daa.fractions[0]"),
    "daa.fractions [0.0]": ({"daa": {"fractions": [0.0]}}, "daa.fractions[0]"),
    "fit.level 1.0": ({"fit": {"level": 1.0}}, "fit.level"),
    "fit.level 0": ({"fit": {"level": 0}}, "fit.level"),
    "fit.extrapolate_from 2": ({"fit": {"extrapolate_from": 2}}, "fit.extrapolate_from"),
    "world.stop_max 1.5": ({"world": {"stop_max": 1.5}}, "world.stop_max"),
    "warmup_ratio 1.5": ({"rl": {"train": {"warmup_ratio": 1.5}}}, "rl.train.warmup_ratio"),
    "learning_rate -inf": ({"daa": {"train": {"learning_rate": -INF}}}, "daa.train.learning_rate"),
    "rl.num_generations 1": ({"rl": {"num_generations": 1}}, "rl.num_generations"),
    "rm_eval.k 1": ({"rm_eval": {"k": 1}}, "rm_eval.k"),
    "rm_eval.n_boot 5": ({"rm_eval": {"n_boot": 5}}, "rm_eval.n_boot"),
    "bon.N 1": ({"bon": {"N": 1}}, "bon.N"),
    "world.vocab_size 1": ({"world": {"vocab_size": 1}}, "world.vocab_size"),
    # inconsistent cross-keys
    "rl.objectives without a proxy": ({"proxy": {"objectives": ["bt"]}}, "rl.objectives"),
    "world.branching > vocab_size": ({"world": {"branching": 100}}, "world.branching"),
    "sized_model arch and name_or_path": (sizes({"name": "xs", "arch": XS, "name_or_path": "EleutherAI/pythia-14m"}),
                                          "proxy.sizes[0]"),
    "sized_model neither": (sizes({"name": "xs"}), "proxy.sizes[0]"),
    "more_sizes arch and name_or_path": ({"policy": {"more_sizes": [{"name": "large", "arch": XS,
                                                                     "name_or_path": "EleutherAI/pythia-1b"}]}},
                                         "policy.more_sizes[0]"),
    "proxy n_embd % n_head": (sizes({"name": "xs", "arch": {**XS, "n_head": 3}}), "proxy.sizes[0].arch"),
    "policy n_embd % n_head": ({"policy": {"arch": {"n_head": 5}}}, "policy.arch"),
    "gold n_embd % n_head": ({"gold": {"arch": {"n_head": 3}}}, "gold.arch"),
    "proxy.pfr.data_sizes not in data_sizes": ({"proxy": {"pfr": {"data_sizes": [300]}}}, "proxy.pfr.data_sizes"),
    "proxy.pfr.prompts >= batch": ({"proxy": {"pfr": {"prompts": 32}}}, "proxy.pfr.prompts"),
    "data sizes exceed rm_train prompts": ({"proxy": {"data_sizes": [200, 6000]}}, "world.prompts.rm_train"),
    "rl batch % num_generations": ({"rl": {"train": {"per_device_train_batch_size": 18}}},
                                   "rl.train.per_device_train_batch_size"),
    "PPO batch > policy_train prompts": ({"rl": {"train": {"per_device_train_batch_size": 200}}},
                                         "rl.train.per_device_train_batch_size"),
    "rl.eval_prompts > eval": ({"rl": {"eval_prompts": 25}}, "rl.eval_prompts"),
    "rl one eval sample": ({"rl": {"eval_prompts": 1, "eval_samples": 1}}, "rl.eval_samples"),
    "daa.eval_prompts > eval": ({"daa": {"eval_prompts": 25}}, "daa.eval_prompts"),
    "daa one eval sample": ({"daa": {"eval_prompts": 1, "eval_samples": 1}}, "daa.eval_samples"),
    "daa.data_size > data_sizes": ({"daa": {"data_size": 700}}, "daa.data_size"),
    "daa.proxy not in grid": ({"daa": {"proxy": "xl-d200-bt-s0"}}, "daa.proxy"),
    "daa.proxy null, data_size off grid": ({"daa": {"data_size": 300}}, "daa.proxy"),
    "daa.heldout_pairs > labels.heldout": ({"daa": {"heldout_pairs": 301}}, "daa.heldout_pairs"),
    "daa.fractions on one step": ({"daa": {"fractions": [0.25, 0.26]}}, "daa.fractions"),
    "role_swap.flip_rates 0.5": ({"role_swap": {"flip_rates": [0.0, 0.2, 0.5]}}, "role_swap.flip_rates[2]"),
    "role_swap two members": ({"role_swap": {"flip_rates": [0.0, 0.2]}}, "role_swap.flip_rates"),
    "role_swap rates repeat": ({"role_swap": {"flip_rates": [0.0, 0.2, 0.2]}}, "role_swap.flip_rates"),
    "role_swap rates one run id": ({"role_swap": {"flip_rates": [0.0, 0.1, 0.1000000001]}}, "role_swap.flip_rates"),
    "role_swap.size not a size": ({"role_swap": {"size": "xl"}}, "role_swap.size"),
    "role_swap.data_size > pairs": ({"role_swap": {"data_size": 700}}, "role_swap.data_size"),
    "role_swap.bon_n > bon.N": ({"role_swap": {"bon_n": [64]}}, "role_swap.bon_n"),
    "role_swap.rl as text": ({"role_swap": {"rl": "yes"}}, "role_swap.rl"),
    "shift.rate 0": ({"shift": {"rate": 0}}, "shift.rate"),
    "shift.cue blank": ({"shift": {"cue": "  "}}, "shift.cue"),
    "shift.cue two words": ({"shift": {"cue": " w07 w08"}}, "shift.cue"),
    "shift.cue not a word": ({"shift": {"cue": " MARK"}}, "shift.cue"),
    "shift.cue off the vocabulary": ({"shift": {"cue": " w99"}}, "shift.cue"),
    "shift.size bad, design off": ({"shift": {"size": "zz", "seeds": []}}, "shift.size"),
    "role_swap.bon_n > bon.N, family off": ({"role_swap": {"flip_rates": [], "bon_n": [64]}}, "role_swap.bon_n"),
    "role_swap.rl_step off the eval grid": ({"role_swap": {"rl_step": 3}}, "role_swap.rl_step"),
    "shift.size not a size": ({"shift": {"size": "xl"}}, "shift.size"),
    "shift.data_size > pairs": ({"shift": {"data_size": 700}}, "shift.data_size"),
    "shift.objectives unknown": ({"shift": {"objectives": ["dpo"]}}, "shift.objectives[0]"),
    "shift.seeds repeat": ({"shift": {"seeds": [0, 0]}}, "shift.seeds"),
    "rm_eval.rank_bins not dividing k": ({"rm_eval": {"rank_bins": 3}}, "rm_eval.rank_bins"),
    "rm_eval.budget_ks > k": ({"rm_eval": {"budget_ks": [2, 16]}}, "rm_eval.budget_ks[1]"),
    "rm_eval.budget_ks 1": ({"rm_eval": {"budget_ks": [1]}}, "rm_eval.budget_ks[0]"),
    "rm_eval.budget_ks repeat": ({"rm_eval": {"budget_ks": [2, 2]}}, "rm_eval.budget_ks"),
    "mix.size not a size": ({"mix": {"size": "xl"}}, "mix.size"),
    "mix.data_size > pairs": ({"mix": {"data_size": 700}}, "mix.data_size"),
    "mix one member": ({"mix": {"onpolicy_fractions": [1.0]}}, "mix.onpolicy_fractions"),
    "mix shares repeat": ({"mix": {"onpolicy_fractions": [1.0, 0.5, 0.5]}}, "mix.onpolicy_fractions"),
    "mix share > 1": ({"mix": {"onpolicy_fractions": [1.0, 1.5]}}, "mix.onpolicy_fractions[1]"),
    "mix share not whole pairs": ({"mix": {"onpolicy_fractions": [1.0, 0.3333]}}, "mix.onpolicy_fractions"),
    "mix.temperature 1": ({"mix": {"temperature": 1.0}}, "mix.temperature"),
    "mix.temperature 0": ({"mix": {"temperature": 0}}, "mix.temperature"),
    "mix.rl_step off the eval grid": ({"mix": {"rl_step": 3}}, "mix.rl_step"),
    "replication.weak_rho 0": ({"replication": {"weak_rho": 0}}, "replication.weak_rho"),
    "rm_eval.k > bon.N": ({"rm_eval": {"k": 33}}, "rm_eval.k"),
    "rm_eval.bon_n > bon.N": ({"rm_eval": {"bon_n": 64}}, "rm_eval.bon_n"),
    "rm_eval.budget > eval": ({"rm_eval": {"budget": 25}}, "rm_eval.budget"),
    "rm_eval.swaps >= eval": ({"rm_eval": {"swaps": 24}}, "rm_eval.swaps"),
    "rm_eval.swap_prompts > eval": ({"rm_eval": {"swap_prompts": 25}}, "rm_eval.swap_prompts"),
    "rm_eval.test_sizes > pool pairs": ({"rm_eval": {"test_sizes": [20, 100000]}}, "rm_eval.test_sizes"),
    "rm_eval.rl_step off the eval grid": ({"rm_eval": {"rl_step": 3}}, "rm_eval.rl_step"),
    "rm_eval.rl_step > rl.steps": ({"rm_eval": {"rl_step": 8}}, "rm_eval.rl_step"),
    "fit.min_n > bon.N": ({"fit": {"min_n": 64}}, "fit.min_n"),
    "more_sizes_targets unknown": ({"policy": {"more_sizes_targets": ["huge-d1-bt-s0"]}}, "policy.more_sizes_targets"),
    "chat template for a built gold": ({"gold": {"chat_template": True}}, "gold.chat_template"),
    "dtype unknown": ({"dtype": "float16"}, "dtype"),
    "rl.sweeps target unknown": ({"rl": {"sweeps": [{"targets": ["huge-d1-bt-s0"]}]}}, "rl.sweeps[0].targets"),
    "rl.sweeps kl dup": ({"rl": {"sweeps": [{"targets": ["gold"], "kl_coefs": [0.1, 0.1]}]}}, "rl.sweeps[0].kl_coefs"),
    "rl.sweeps kl collide in paths": ({"rl": {"sweeps": [{"targets": ["gold"], "kl_coefs": [0.1, 0.1000001]}]}},
                                      "rl.sweeps[0].kl_coefs"),
    "more_sizes_targets not an RL target": ({"rl": {"objectives": ["bt"]},
                                             "policy": {"more_sizes_targets": ["xs-d200-pfr-s0"]}},
                                            "policy.more_sizes_targets"),
    "dataset prompts for a built pi_init": ({"world": {"prompt_dataset": {"name_or_path": "HuggingFaceH4/x"}}},
                                            "world.prompt_dataset.name_or_path"),
    "OOD dataset without a dataset": ({"world": {"prompt_dataset": {"ood_name_or_path": "tatsu-lab/alpaca"}}},
                                      "world.prompt_dataset.ood_name_or_path"),
    # oversized models, sequences, batches, pools (the memory estimate against the profile)
    "response_len 1e9": ({"response_len": 10**9}, "response_len"),
    "world.prompt_len 1e7": ({"world": {"prompt_len": 10**7}}, "world.prompt_len"),
    "world.vocab_size 1e10": ({"world": {"vocab_size": 10**10}}, "world.vocab_size"),
    "world.policy_corpus 1e10": ({"world": {"policy_corpus": 10**10}}, "world.policy_corpus"),
    "bon.N 1e9": ({"bon": {"N": 10**9}}, "bon.N"),
    "bon.per_octave 1e9": ({"bon": {"per_octave": 10**9}}, "bon.per_octave"),
    "rm_eval.n_boot 1e12": ({"rm_eval": {"n_boot": 10**12}}, "rm_eval.n_boot"),
    "1M-wide proxy": (sizes({"name": "xs", "arch": {"n_embd": 10**6, "n_layer": 1, "n_head": 2}}),
                      "proxy.sizes[0].arch.n_embd"),
    "1M-deep policy": ({"policy": {"arch": {"n_layer": 10**6}}}, "policy.arch.n_layer"),
    "wide gold": ({"gold": {"arch": {"n_embd": 2**16}}}, "gold.arch.n_embd"),
    "wide policy size": ({"policy": {"more_sizes": [{"name": "large", "arch": {"n_embd": 2**15, "n_layer": 4,
                                                                               "n_head": 2}}]}},
                         "policy.more_sizes[0].arch.n_embd"),
    "score_batch_size 1e7": ({"score_batch_size": 10**7}, "score_batch_size"),
    "sample_batch_size 1e7": ({"sample_batch_size": 10**7}, "sample_batch_size"),
    "proxy train batch 1e7": ({"proxy": {"train": {"per_device_train_batch_size": 10**7}}},
                              "proxy.train.per_device_train_batch_size"),
    "rl.eval_samples 1e8": ({"rl": {"eval_samples": 10**8}}, "rl.eval_samples"),
    "rm_train prompts 1e10": ({"world": {"prompts": {"rm_train": 10**10}}}, "world.prompts.rm_train"),
    # missing local models and datasets
    "policy.name_or_path ./nope": ({"policy": {"name_or_path": "./nope"}}, "policy.name_or_path"),
    "gold.name_or_path /no/such": ({"gold": {"name_or_path": "/no/such/gold"}}, "gold.name_or_path"),
    "proxy size ./missing": (sizes({"name": "xs", "name_or_path": "./missing"}), "proxy.sizes[0].name_or_path"),
    "more size ~/nope": ({"policy": {"more_sizes": [{"name": "large", "name_or_path": "~/no/such/model"}]}},
                         "policy.more_sizes[0].name_or_path"),
    "folder without config.json": ({"policy": {"name_or_path": "./config"}}, "policy.name_or_path"),
    "not a hub id": ({"gold": {"name_or_path": "no such model"}}, "gold.name_or_path"),
    "dataset folder missing": ({"policy": {"name_or_path": "EleutherAI/pythia-14m"},
                                "world": {"prompt_dataset": {"name_or_path": "./no/such/data"}}},
                               "world.prompt_dataset.name_or_path"),
}


def test_overlay_merges_like_snakemake(tiny, root):
    from snakemake.utils import update_config

    over = {"policy": {"arch": {"n_embd": 8}, "more_sizes": []}, "rl": {"kl_coefs": [0.5]}, "new": {"a": 1}}
    expected = copy.deepcopy(tiny)
    update_config(expected, over)
    assert overlay(tiny, over) == expected and len(BAD) >= 100


@pytest.mark.parametrize("over,key", BAD.values(), ids=BAD.keys())
def test_bad_overlay_is_rejected_naming_the_key(tiny, over, key):
    cfg = overlay(tiny, over)
    given = copy.deepcopy(cfg)
    with pytest.raises(C.ConfigError) as err:
        C.validate(cfg)
    msg = str(err.value)
    assert err.value.key == key, msg
    assert msg.startswith(f"config key '{key}': ") and "\n" not in msg
    assert _same(cfg, given)  # a rejected config is left exactly as given


def _same(a, b) -> bool:
    """Deep equality where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isnan(a) and math.isnan(b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("preset", [None, "tiny", "pythia", "full", "long"])
def test_presets_validate_offline(root, preset):
    cfg = yaml.safe_load((root / "config.yaml").read_text())
    if preset:
        cfg = overlay(cfg, yaml.safe_load((root / f"config/presets/{preset}.yaml").read_text()))
    assert C.validate(cfg) is cfg and cfg["fit"]["extrapolate_from"] == 3  # defaults filled in place


@pytest.mark.parametrize("over", [
    {"policy": {"train": {"num_train_epochs": 1.5}}},  # fractional epochs: fine for pi_init and proxies
    {"proxy": {"train": {"num_train_epochs": 0.5}}},
    {"rl": {"steps": 7}, "rm_eval": {"rl_step": 7}},  # the last step is evaluated too
    {"rl": {"kl_coefs": [0.0, 1e-07, 0.123456]}, "daa": {"betas": [0.5, 2]}},  # written back exactly
    {"proxy": {"objectives": ["bt"]}, "rl": {"objectives": ["bt"]}},
])
def test_good_overlays_pass(tiny, over):
    C.validate(overlay(tiny, over))
