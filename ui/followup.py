"""Follow-up questions made to stand alone before they are searched.

"And for adoptive parents?" means nothing to a search; after "How many weeks of paid leave
do birthing parents get?" it means "... paid leave ... adoptive parents". The page searches
with a rewritten query, and shows it:

- **With a chat endpoint**, the model rewrites the question from the conversation's last
  turns (REWRITE_PROMPT); it returns a standalone question unchanged.
- **Without one** (or when it fails), a rule: a question is a follow-up when it opens with
  a connective ("and", "what about", "how about", "also", ...), refers back with a pronoun
  ("it", "they", "that", "those", "there", ...), or has fewer than MIN_OWN_TERMS words of
  its own that carry meaning. A follow-up is searched with the key words of the previous
  question it lacks appended; any other question is searched as asked.
"""

import re
from collections.abc import Sequence

from ui.chat_endpoint import ChatEndpoint, ChatEndpointError, complete
from ui.terms import STOPWORDS, WORD, key_terms, stem

MIN_OWN_TERMS = 2
"""A question with fewer words of its own that carry meaning leans on the one before."""
TURNS_SHOWN = 3
"""Previous questions the model sees to rewrite a follow-up."""

_OPENING = re.compile(
    r"^\s*(?:and|also|but|so|then|or|what about|how about|what if|same for|and what about)\b",
    re.IGNORECASE,
)
_BACK_REFERENCE = re.compile(
    r"\b(?:it|its|they|them|their|this|that|these|those|he|she|his|her|there|one|ones|"
    r"same|such)\b",
    re.IGNORECASE,
)

REWRITE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the "
    "conversation, for a search engine: resolve pronouns and ellipsis from the earlier "
    "questions, keep every name, number and term. If it already stands alone, return it "
    "unchanged. Reply with the question only, on one line."
)


def is_follow_up(question: str) -> bool:
    """Whether `question` leans on the one before (see the module's rule)."""
    return bool(_OPENING.search(question) or _BACK_REFERENCE.search(question)
                or len(key_terms(question)) < MIN_OWN_TERMS)


def by_rule(previous: Sequence[str], question: str) -> str:
    """`question`, with the key words of the last of `previous` it lacks appended when it
    is a follow-up (in their order, each once)."""
    if not previous or not is_follow_up(question):
        return question
    own = key_terms(question)
    added: list[str] = []
    for word in WORD.findall(previous[-1]):
        term = stem(word)
        if word.lower() not in STOPWORDS and term not in own and term not in map(stem, added):
            added.append(word)
    return f"{question} ({' '.join(added)})" if added else question


def rewrite_messages(previous: Sequence[str], question: str) -> list[dict[str, str]]:
    earlier = "\n".join(f"- {q}" for q in previous[-TURNS_SHOWN:])
    return [{"role": "system", "content": REWRITE_PROMPT},
            {"role": "user", "content": f"Earlier questions:\n{earlier}\n\n"
                                        f"Last question: {question}"}]


def by_model(endpoint: ChatEndpoint, previous: Sequence[str], question: str) -> str:
    """The endpoint's standalone form of `question` (ChatEndpointError on failure); the
    question itself when there is nothing before it, or the model returns nothing."""
    if not previous:
        return question
    rewritten = complete(endpoint, rewrite_messages(previous, question))
    line = " ".join(rewritten.split())
    return line or question


def standalone(previous: Sequence[str], question: str,
               endpoint: ChatEndpoint | None) -> tuple[str, str | None]:
    """What to search for `question` after `previous` (the earlier turns' searches), and a
    notice when the endpoint failed to rewrite it (the rule is used instead)."""
    if endpoint is None:
        return by_rule(previous, question), None
    try:
        return by_model(endpoint, previous, question), None
    except ChatEndpointError as e:
        notice = (f"The chat endpoint could not rewrite the follow-up ({e}); it was "
                  "searched by the page's own rule.")
        return by_rule(previous, question), notice
