# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def few_shot_prompt(examples, dialogue):
    out = ""
    for ex in examples:
        out += make_prompt(ex["dialogue"]) + ex["summary"].strip() + "\n\n\n"
    return out + make_prompt(dialogue)
