# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def few_shot_prompt(examples, dialogue):
    if not examples:
        return make_prompt(dialogue)
    first = examples[0]
    return make_prompt(first["dialogue"]) + first["summary"].strip() + "\n\n\n" + make_prompt(dialogue)
