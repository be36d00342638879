# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def make_prompt(dialogue):
    parts = ["Summarize the following conversation.", dialogue.strip(), "Summary: "]
    return "\n\n".join(parts)
