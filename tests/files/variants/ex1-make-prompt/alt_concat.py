# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
INSTRUCTION = "Summarize the following conversation."


def make_prompt(dialogue):
    return INSTRUCTION + "\n" * 2 + dialogue.strip() + "\n" * 2 + "Summary" + ": "
