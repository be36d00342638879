# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def few_shot_prompt(examples, dialogue):
    for ex in examples:
        ex["summary"] = ex["summary"].strip()
    parts = [make_prompt(ex["dialogue"]) + ex["summary"] for ex in examples]
    return "\n\n\n".join(parts + [make_prompt(dialogue)])
