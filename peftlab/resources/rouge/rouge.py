# Copyright peftlab authors. Licensed under Apache-2.0.
"""ROUGE as an `evaluate` metric module that works offline (peftlab loads it by path).

Wraps Google's ``rouge_score``: F-measures of rouge1, rouge2, rougeL and rougeLsum in 0..1, with
Porter stemming by default. A prediction may have several references: for each ROUGE type the
best-scoring reference counts, as ``rouge_score.scorer.RougeScorer.score_multi`` does.
"""

import datasets
import evaluate
from rouge_score import rouge_scorer, scoring

_DESCRIPTION = """ROUGE F-measure (rouge1, rouge2, rougeL, rougeLsum) with several references per
prediction: each ROUGE type takes the best reference. Set use_aggregator=False for per-example scores."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of strings.
    references: list of strings, or list of lists of strings (several references per prediction).
    rouge_types: subset of ["rouge1", "rouge2", "rougeL", "rougeLsum"] (default: all four).
    use_stemmer: Porter-stem words before matching (default True).
    use_aggregator: return the mean over examples (default True) or one score per example.
Returns:
    dict rouge_type -> float (mean F-measure) or list of floats (per example).
"""

_CITATION = """@inproceedings{lin-2004-rouge, title={ROUGE: A Package for Automatic Evaluation of
Summaries}, author={Lin, Chin-Yew}, booktitle={Text Summarization Branches Out}, year={2004}}"""

ALL_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("string"),
                                   "references": datasets.Sequence(datasets.Value("string"))}),
                datasets.Features({"predictions": datasets.Value("string"),
                                   "references": datasets.Value("string")}),
            ],
            codebase_urls=["https://github.com/google-research/google-research/tree/master/rouge"],
        )

    def _compute(self, predictions, references, rouge_types=None, use_stemmer=True,
                 use_aggregator=True):
        rouge_types = list(rouge_types or ALL_TYPES)
        scorer = rouge_scorer.RougeScorer(rouge_types=rouge_types, use_stemmer=use_stemmer)
        per_example = {t: [] for t in rouge_types}
        for prediction, refs in zip(predictions, references):
            refs = [refs] if isinstance(refs, str) else list(refs)
            scores = scorer.score_multi(refs, prediction)
            for t in rouge_types:
                per_example[t].append(scores[t].fmeasure)
        if not use_aggregator:
            return per_example
        return {t: (sum(v) / len(v) if v else 0.0) for t, v in per_example.items()}


__all__ = ["Rouge", "scoring"]
