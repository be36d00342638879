# ruff: noqa  (namespace for the quiz exercises in tests/test_discrimination.py)
from peftlab.grading import check_choice, check_choices, check_number
