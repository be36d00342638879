"""Is the comparison of methods fair, and does it say how sure it is?

Every profile gives the compared methods the same budget (steps, examples) and the same test
dialogues; the report's table names them (``steps``, ``examples``, ``n``) and gives each method's
difference from zero-shot with a paired bootstrap interval over the same dialogues.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from peftlab.evaluation import Evaluation
from peftlab.metrics import bootstrap_ci, paired_bootstrap_ci
from peftlab.profiles import COMPARED_METHODS, PROFILES
from peftlab.results import ComparisonRow, comparison_rows, load_results, save_results, write_report


def _scores(rouge1_by_id: dict[str, float]) -> Evaluation:
    values = list(rouge1_by_id.values())
    mean = sum(values) / len(values)
    return Evaluation(split="test", task="summary", n=len(values), rouge1=mean, rouge2=mean,
                      rougeL=mean, rougeLsum=mean, ci95={"rouge1": bootstrap_ci(values)},
                      seconds=1.0, examples_per_second=len(values), new_tokens_per_second=10.0,
                      predictions=[{"id": i, "prediction": "", "references": [], "rouge1": v}
                                   for i, v in rouge1_by_id.items()])


def test_paired_interval_is_of_the_difference_and_narrower_than_unpaired():
    """Does pairing cancel what both methods share (hard dialogues), leaving the difference?"""
    rng = random.Random(0)
    difficulty = [rng.uniform(0.1, 0.6) for _ in range(50)]
    base = [d + rng.gauss(0, 0.01) for d in difficulty]
    better = [d + 0.03 + rng.gauss(0, 0.01) for d in difficulty]
    mean, low, high = paired_bootstrap_ci(better, base)
    assert mean == pytest.approx(sum(better) / 50 - sum(base) / 50)
    assert 0 < low < mean < high < 0.06  # clearly positive although...
    unpaired = bootstrap_ci(better), bootstrap_ci(base)
    assert unpaired[0][0] < unpaired[1][1]  # ...the two unpaired intervals overlap
    with pytest.raises(ValueError, match="same examples"):
        paired_bootstrap_ci(better, base[:-1])


def test_report_pairs_methods_scored_on_the_same_dialogues(tmp_path):
    """Does the table give steps, examples and n, and a paired delta only where the dialogues
    are the baseline's?"""
    profile = PROFILES["smoke"]
    ids = [str(i) for i in range(20)]
    zero = {i: 0.2 + 0.01 * k for k, i in enumerate(ids)}
    save_results(tmp_path, "01_zero_shot", profile, [ComparisonRow.of("zero-shot", _scores(zero))])
    lora = ComparisonRow.of("lora", _scores({i: v + 0.05 for i, v in zero.items()}),
                            steps=16, examples=128)
    elsewhere = ComparisonRow.of("prompt", _scores({f"x{i}": v for i, v in zero.items()}))
    save_results(tmp_path, "03_lora", profile, [lora, elsewhere])
    rows = {row.method: row for row in comparison_rows(load_results(tmp_path))}
    assert rows["lora"].delta_rouge1 == pytest.approx(0.05)
    assert rows["lora"].delta_ci95 == pytest.approx((0.05, 0.05))
    assert rows["prompt"].delta_rouge1 is None  # other dialogues: no paired difference
    report = write_report(tmp_path, "smoke").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| method"))
    cells = [cell.strip() for cell in header.strip("|").split("|")]
    assert {"steps", "examples", "n"} <= set(cells)
    assert "+0.050 [+0.050, +0.050]" in report


@pytest.mark.parametrize("name", ["smoke", "cpu", "gpu"])
def test_every_profile_compares_methods_at_equal_budgets(name):
    """Does every compared method get the same steps, examples and test dialogues?"""
    profile = PROFILES[name]
    assert set(COMPARED_METHODS) == {"full", "ln_tuning", "lora", "prompt", "prefix"}
    assert profile.method_steps > 0 and profile.eval_limit
    # every method trains on the same rows: one pass over train_limit examples at most
    if profile.train_limit is not None:
        assert profile.method_steps * profile.batch_size <= profile.train_limit
    if name == "cpu":
        assert profile.method_steps >= 15 and profile.batch_size == 8
        assert profile.eval_limit >= 40


def test_profiles_have_one_budget_field():
    """Is there no per-method step or evaluation field left to drift apart?"""
    fields = {f.name for f in dataclasses.fields(PROFILES["cpu"])}
    assert not fields & {"full_steps", "ln_tuning_steps", "prompt_steps", "prefix_steps",
                         "lora_max_steps", "lora_epochs", "method_eval_limit"}
