"""The three classes of PEFT methods and where the course's methods sit among them.

Lialin, Deshpande and Rumshisky 2023 ("Scaling Down to Scale Up: A Guide to Parameter-Efficient
Fine-Tuning") sort PEFT methods into three classes:

* **selective**: train a chosen subset of the model's own weights (BitFit's biases; the course's
  LayerNorm tuning, ``ln_tuning``: the normalisation weights);
* **reparameterization**: train a low-rank reparameterization of a weight update (LoRA);
* **additive**: add new trainable weights, either new layers (adapters) or new inputs (soft
  prompts: prompt tuning, prefix tuning).

Full fine-tuning, which trains every weight, is the baseline outside the three.
"""

from __future__ import annotations

from dataclasses import dataclass

PEFT_CLASSES = ("selective", "reparameterization", "additive")

# What each class trains, in a few words (the map's column titles).
CLASS_SUMMARIES = {
    "selective": "a subset of the model's own weights",
    "reparameterization": "a low-rank update of the weights",
    "additive": "new weights: layers or inputs",
}

SOURCE = 'Lialin et al. 2023, "Scaling Down to Scale Up"'


@dataclass(frozen=True)
class Placement:
    """One method of the course in the three-class map.

    Attributes:
        method: its name in the results (a key of ``METHODS``, or ``adapter`` for the bottleneck
            adapters of :mod:`peftlab.methods.adapter`, which the course does not train).
        label: how the map names it.
        peft_class: one of :data:`PEFT_CLASSES`.
        group: the sub-family within the additive class (``adapters`` or ``soft prompts``), or "".
    """

    method: str
    label: str
    peft_class: str
    group: str = ""

    def __post_init__(self):
        if self.peft_class not in PEFT_CLASSES:
            raise ValueError(f"peft_class must be one of {PEFT_CLASSES}, got {self.peft_class!r}")


PLACEMENTS = (
    Placement("ln_tuning", "LayerNorm tuning\n(norm weights)", "selective"),
    Placement("lora", "LoRA", "reparameterization"),
    Placement("adapter", "bottleneck adapters", "additive", "adapters"),
    Placement("prompt", "prompt tuning", "additive", "soft prompts"),
    Placement("prefix", "prefix tuning", "additive", "soft prompts"),
)
