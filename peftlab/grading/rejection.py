"""Setting aside submitted notebooks that nbformat cannot read, so the batch goes on."""

from __future__ import annotations

import shutil

import nbformat

from peftlab.grading.names import layout


def reject_broken(student: str) -> list[str]:
    """Set aside notebooks nbformat cannot read; one note per notebook.

    The file moves to ``course/rejected/<student>/lab2/`` (with the reason) and an empty
    notebook takes its place, which the autograder grades like any other: 0 points, the batch
    goes on.
    """
    course = layout()
    notes = []
    for path in sorted(course.student("submitted", student).glob("*.ipynb")):
        try:
            nbformat.validate(nbformat.read(path, as_version=4))
            continue
        except Exception as err:  # noqa: BLE001 - any parse or schema failure rejects the file
            reason = " ".join(str(err).split())[:200]
        dest = course.student("rejected", student)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), dest / path.name)
        (dest / (path.name + ".reason.txt")).write_text(reason + "\n")
        placeholder = nbformat.v4.new_notebook(metadata={"peftlab": {"rejected": reason}})
        nbformat.write(placeholder, path)
        notes.append(f"{path.name}: unreadable notebook, scored 0 ({reason[:80]})")
    return notes
