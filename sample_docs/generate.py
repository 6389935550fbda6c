"""Write the sample document set: `python -m sample_docs.generate [ROOT]` (default: here).

Deterministic: the same sources give the same bytes, so the committed files only change
when a source does. Run it after editing anything under `sample_docs/corpus/`.
"""

import sys
from pathlib import Path

from sample_docs.corpus import handbook, hr, research, runbook
from sample_docs.render import write

DOCUMENTS = (*handbook.DOCUMENTS, *runbook.DOCUMENTS, *hr.DOCUMENTS, *research.DOCUMENTS)


def main(root: Path) -> None:
    """Write every document under `root` and list what was written."""
    for doc in DOCUMENTS:
        path = write(doc, root)
        print(f"{path.stat().st_size:>8,}  {path.relative_to(root)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
