# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def make_prompt(dialogue):
    return f"Summarize the following conversation.\n\n{dialogue.rstrip()}\n\nSummary: "
