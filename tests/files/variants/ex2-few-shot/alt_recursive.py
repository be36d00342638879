# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def few_shot_prompt(examples, dialogue):
    if not examples:
        return make_prompt(dialogue)
    head, *rest = examples
    solved = make_prompt(head["dialogue"]) + head["summary"].strip()
    return solved + "\n\n\n" + few_shot_prompt(rest, dialogue)
