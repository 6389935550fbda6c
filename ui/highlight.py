"""Mark the words of a passage that match the question, as safe HTML."""

import html

from ui.terms import WORD, key_terms, stem


def highlight(text: str, question: str) -> str:
    """`text` HTML-escaped, with every word sharing a stem with the question in `<mark>`.

    Line breaks are kept as `<br>` so PDF lines and lists stay readable.
    """
    wanted = key_terms(question)
    out: list[str] = []
    last = 0
    for match in WORD.finditer(text):
        if stem(match.group()) in wanted:
            out.append(html.escape(text[last : match.start()]))
            out.append(f"<mark>{html.escape(match.group())}</mark>")
            last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out).replace("\n", "<br>")
