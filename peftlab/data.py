"""DialogSum loading and the lab's prompts.

One loader, :func:`load_dialogsum`, turns every source the course meets into the same
``datasets.DatasetDict`` with splits ``train`` / ``validation`` / ``test`` (those present) and
columns ``id, dialogue, summary, references, topic``:

* the Hub id ``knkarthick/dialogsum`` (needs the Hub);
* a local folder in DialogSum's original release format (``[dialogsum.]{train,dev,test}.jsonl[.gz]``)
  or in the Hub's csv/parquet layout (files named by split);
* ``"dialogsum-mini"``, the original sample shipped inside peftlab.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
from collections import OrderedDict
from pathlib import Path

from peftlab.errors import DataError

# The instruction of each task: the first line of its prompt and the text-initialised soft
# prompts' and prefixes' starting text.
INSTRUCTIONS = {"summary": "Summarize the following conversation.",
                "topic": "What is the topic of the following conversation?"}
PROMPT_TEMPLATE = INSTRUCTIONS["summary"] + "\n\n{dialogue}\n\nSummary: "
TOPIC_TEMPLATE = INSTRUCTIONS["topic"] + "\n\n{dialogue}\n\nTopic: "
TEMPLATES = {"summary": PROMPT_TEMPLATE, "topic": TOPIC_TEMPLATE}
MAX_LENGTH = 512  # tokens per training example in the lab's recipe (the dialogue is cut to fit)

HUB_ID = "knkarthick/dialogsum"
MINI = "dialogsum-mini"
MINI_DIR = Path(__file__).parent / "resources" / "dialogsum_mini"
SPLITS = ("train", "validation", "test")
COLUMNS = ("id", "dialogue", "summary", "references", "topic")

_SPLIT_ALIASES = {"train": "train", "dev": "validation", "validation": "validation", "valid": "validation",
                  "val": "validation", "test": "test"}
_FILE_RE = re.compile(
    r"^(?:dialogsum[._-])?(?P<split>train|dev|validation|valid|val|test)"
    r"(?:-\d+-of-\d+)?\.(?P<ext>jsonl|json|csv|parquet)(?P<gz>\.gz)?$"
)


def build_prompt(dialogue: str, template: str = PROMPT_TEMPLATE) -> str:
    """Return the lab's zero-shot prompt for one dialogue."""
    return template.format(dialogue=dialogue.strip())


def build_few_shot_prompt(examples: list[dict], dialogue: str) -> str:
    """Return a few-shot prompt: each example's prompt and summary, then the new dialogue's prompt.

    Args:
        examples: rows with ``dialogue`` and ``summary`` (0 rows gives the zero-shot prompt).
        dialogue: the dialogue to summarize.
    """
    shots = [build_prompt(ex["dialogue"]) + ex["summary"].strip() for ex in examples]
    return "\n\n\n".join([*shots, build_prompt(dialogue)])


def chat_prompt(tokenizer, prompt: str) -> str:
    """Wrap a ready prompt in the tokenizer's chat template (instruct causal models).

    Returns the prompt unchanged when the tokenizer has no chat template (T5, base models).
    """
    if not getattr(tokenizer, "chat_template", None):
        return prompt
    messages = [{"role": "user", "content": prompt.rstrip()}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


# ----------------------------------------------------------------------------------------- loading


def load_dialogsum(source: str | Path = MINI):
    """Load DialogSum (or the embedded sample) as a ``DatasetDict`` with normalised columns.

    Args:
        source: ``"dialogsum-mini"``, a local folder, or a Hub dataset id.

    Returns:
        ``datasets.DatasetDict`` with the splits present among train/validation/test; each row has
        ``id, dialogue, summary`` (the first reference), ``references`` (all of them) and ``topic``.
        Rows repeating the same dialogue in one split (the Hub's test split) become one row.

    Raises:
        DataError: a missing folder, an empty or unreadable file, a row without a dialogue or summary,
            or a Hub id that cannot be reached.
    """
    from datasets import Dataset, DatasetDict

    source = str(source)
    if source == MINI:
        splits = _read_folder(MINI_DIR)
    elif Path(source).expanduser().exists():
        path = Path(source).expanduser()
        if not path.is_dir():
            raise DataError(f"{path} is a file; --data takes a folder of split files "
                            f"(train/dev/test .jsonl[.gz], .csv or .parquet), a Hub id or '{MINI}'")
        splits = _read_folder(path)
    elif re.fullmatch(r"[\w.-]+/[\w.-]+", source) and not source.startswith((".", "/")):
        splits = _read_hub(source)
    else:
        raise DataError(f"data source '{source}' not found: give an existing folder, a Hub id such as "
                        f"'{HUB_ID}', or '{MINI}' (works offline)")
    return DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items()})


def _read_folder(folder: Path) -> dict[str, list[dict]]:
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        match = _FILE_RE.match(path.name)
        if match:
            found.setdefault(_SPLIT_ALIASES[match["split"]], []).append(path)
    if not found:
        raise DataError(f"{folder} holds no DialogSum split files: expected names like train.jsonl, "
                        f"dev.jsonl[.gz], test.jsonl, or train.csv / validation.parquet")
    missing = [s for s in SPLITS if s not in found]
    # The notebooks score the test split; a folder without one (DialogSum's train and dev alone)
    # is scored on its validation split, said in the same line.
    stand_in = "test" in missing and "validation" in found
    if missing:
        print(f"peftlab: {folder}: no file for split(s) {', '.join(missing)}; loading "
              f"{', '.join(s for s in SPLITS if s in found)}"
              + ("; the validation split stands in for test (scores are on validation)"
                 if stand_in else ""), file=sys.stderr)
    splits = {}
    for split in SPLITS:
        if split in found:
            rows = []
            for path in found[split]:
                rows.extend(_normalise(_read_rows(path), str(path)))
            splits[split] = _merge_references(rows)
    if stand_in:
        splits["test"] = splits["validation"]
    return splits


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    """Return (row number, raw row) pairs; row numbers are 1-based lines (jsonl) or records."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".parquet"):
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types for a broken file
            raise DataError(f"{path}: not a readable parquet file ({type(err).__name__}); "
                            f"re-export it or use .jsonl/.csv") from None
        records = frame.to_dict("records")
        rows = list(enumerate(records, 1))
    else:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            try:
                raw = gzip.decompress(raw)
            except OSError:
                raise DataError(f"{path}: not a valid gzip file; re-download it or gunzip it") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            raise DataError(f"{path}: line {line} is not UTF-8 (byte {err.start}); "
                            f"re-save the file as UTF-8") from None
        if name.endswith(".csv"):
            rows = list(enumerate(csv.DictReader(io.StringIO(text)), 1))
        else:
            rows = []
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        rows.append((number, json.loads(line)))
                    except json.JSONDecodeError as err:
                        raise DataError(f"{path}: line {number} is not valid JSON ({err.msg}); "
                                        f"fix or remove that line") from None
    if not rows:
        raise DataError(f"{path}: the file is empty; remove it or fill it with rows")
    return rows


def _normalise(rows: list[tuple[int, dict]], where: str) -> list[dict]:
    out = []
    for number, row in rows:
        if not isinstance(row, dict):
            raise DataError(f"{where}: row {number} is not an object with named fields")
        dialogue = row.get("dialogue")
        references = [row[k] for k in ("summary", "summary1", "summary2", "summary3")
                      if isinstance(row.get(k), str) and row[k].strip()]
        if not isinstance(dialogue, str) or not dialogue.strip():
            raise DataError(f"{where}: row {number} has no 'dialogue'; every row needs a dialogue "
                            f"and a summary (or summary1..3)")
        if not references:
            raise DataError(f"{where}: row {number} has no 'summary' (or summary1..3); add the "
                            f"reference summary or remove the row")
        topic = row.get("topic") or row.get("topic1") or ""
        row_id = row.get("id") or row.get("fname") or f"row{number}"
        out.append({"id": str(row_id), "dialogue": dialogue.strip(), "summary": references[0].strip(),
                    "references": [r.strip() for r in references], "topic": str(topic).strip()})
    return out


def _merge_references(rows: list[dict]) -> list[dict]:
    """Merge rows that repeat one dialogue (one row per reference) into one row."""
    merged: OrderedDict[str, dict] = OrderedDict()
    for row in rows:
        key = row["dialogue"]
        if key in merged:
            known = merged[key]["references"]
            known.extend(r for r in row["references"] if r not in known)
        else:
            merged[key] = dict(row, references=list(row["references"]))
    for row in merged.values():
        # Hub test ids look like test_0_1, test_0_2: one dialogue, several annotators.
        if len(row["references"]) > 1:
            row["id"] = re.sub(r"_\d+$", "", row["id"]) if re.search(r"_\d+_\d+$", row["id"]) else row["id"]
    return list(merged.values())


def _read_hub(dataset_id: str) -> dict[str, list[dict]]:
    from datasets import load_dataset

    try:
        loaded = load_dataset(dataset_id)
    except Exception as err:
        raise DataError(f"cannot load dataset '{dataset_id}' from the Hugging Face Hub "
                        f"({type(err).__name__}); offline, use --data {MINI} or a local folder of "
                        f"DialogSum files") from None
    splits = {}
    for name, split in loaded.items():
        target = _SPLIT_ALIASES.get(name)
        if target is None:
            continue
        missing = {"dialogue", "summary"} - set(split.column_names)
        if missing:
            raise DataError(f"dataset '{dataset_id}' split '{name}' lacks column(s) "
                            f"{', '.join(sorted(missing))}; it needs dialogue and summary")
        rows = _normalise(list(enumerate(split, 1)), f"{dataset_id}[{name}]")
        splits[target] = _merge_references(rows)
    return splits


def task_pairs(rows, task: str = "summary") -> list[tuple[str, str]]:
    """Return (prompt, target) pairs for a task: ``"summary"`` or ``"topic"``.

    Args:
        rows: a ``Dataset`` split or a list of row dicts.
        task: which column is the target; the prompt template follows the task.
    """
    if task not in TEMPLATES:
        raise DataError(f"unknown task '{task}': choose one of {', '.join(TEMPLATES)}")
    template = TEMPLATES[task]
    return [(build_prompt(r["dialogue"], template), r[task]) for r in rows]
