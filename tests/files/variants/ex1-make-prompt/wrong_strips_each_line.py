# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def make_prompt(dialogue):
    lines = [line.strip() for line in dialogue.strip().splitlines()]
    return "Summarize the following conversation.\n\n" + "\n".join(lines) + "\n\nSummary: "
