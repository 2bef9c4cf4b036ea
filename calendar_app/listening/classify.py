"""What a message is (question, complaint, praise, other) and its tone, offline and explainable.

Method, named in every row's ``method`` and in docs/listening.md:

* **Tone** - VADER, a lexicon and rule model tuned to social media text: ``vaderSentiment``
  for English and its French adaptation ``vaderSentiment-fr`` (a translated, re-weighted
  lexicon). Both run locally, read no network and load no model weights. The compound score
  (-1..1) above +0.05 is positive, below -0.05 negative, neutral between (VADER's own thresholds).
* **Category** - rules on top of the tone: a complaint is negative, or names a complaint cue
  (refund, broken, remboursé...); a question asks (a question mark, or starts as questions do);
  praise is clearly positive; the rest is other.
* **Language** - the network's tag when it gives one; otherwise ``langdetect`` (seeded, so the
  same text always gets the same guess). A language other than English or French is not guessed
  at: the message is kept, tone neutral, category by the language-free cues (``?``) only, and
  ``method`` says ``unsupported-language``.

A person's correction is stored on the row and never overwritten by a later classification.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = ["SUPPORTED_LANGUAGES", "Verdict", "classify", "guess_language"]

SUPPORTED_LANGUAGES = ("en", "fr")
POSITIVE_AT = 0.05
PRAISE_AT = 0.3

_QUESTION_START = {
    "en": re.compile(
        r"^\s*(?:@\S+\s+)*(how|what|when|where|why|who|which|does|do|did|is|are|can|could|"
        r"will|would|should|any(one|body))\b",
        re.IGNORECASE,
    ),
    "fr": re.compile(
        r"^\s*(?:@\S+\s+)*(comment|quand|où|ou est|pourquoi|qui|quel|quelle|quels|quelles|"
        r"combien|est-ce|est ce|peut-on|pouvez|avez|vous|y a-t-il)\b",
        re.IGNORECASE,
    ),
}
_COMPLAINT_CUES = {
    "en": re.compile(
        r"\b(refund|broken|never (arrived|answers?|came)|still waiting|crash\w*|scam|worst|"
        r"terrible|awful|disappoint\w*|unacceptable|cancel\w* my|doesn'?t work|not working|"
        r"complain\w*|ripped off|useless)\b",
        re.IGNORECASE,
    ),
    "fr": re.compile(
        r"\b(rembours\w*|cass[ée]e?s?|jamais (reçu|arrivé\w*|répondu)|toujours pas|arnaque|"
        r"honteux|honte|nul(le)?|déçu\w*|inadmissible|inacceptable|plante|ne marche pas|"
        r"ne fonctionne pas|plainte|scandale\w*|pire)\b",
        re.IGNORECASE,
    ),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    category: str
    tone: str
    score: float
    language: str
    method: str


_lock = threading.Lock()


@cache
def _analyzer(language: str) -> Any:
    """One analyzer per language, loaded on first use (the French lexicon takes a moment)."""
    with warnings.catch_warnings():
        # vaderSentiment-fr imports fuzzywuzzy, which warns when python-Levenshtein is absent.
        warnings.simplefilter("ignore")
        if language == "fr":
            from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer
        else:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        return SentimentIntensityAnalyzer()


@cache
def _detector_ready() -> bool:
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0
    return True


def guess_language(text: str, declared: str = "") -> str:
    """``en``, ``fr`` or ``""``: the network's tag first, else a seeded guess."""
    primary = declared.split("-", 1)[0].split("_", 1)[0].lower().strip()
    if primary:
        return primary if primary in SUPPORTED_LANGUAGES else ""
    letters = re.sub(r"(https?://\S+|[@#]\S+)", " ", text)
    if len(re.findall(r"\w", letters)) < 3:
        return ""
    from langdetect import LangDetectException, detect_langs

    _detector_ready()
    try:
        with _lock:  # langdetect's seeded factory is shared state
            candidates = detect_langs(letters)
    except LangDetectException:
        return ""
    for candidate in candidates:
        if candidate.lang in SUPPORTED_LANGUAGES and candidate.prob >= 0.5:
            return candidate.lang
    return ""


def _tone(score: float) -> str:
    if score >= POSITIVE_AT:
        return "positive"
    if score <= -POSITIVE_AT:
        return "negative"
    return "neutral"


def classify(text: str, declared_language: str = "") -> Verdict:
    """Label one message. Never raises on odd input: an empty or unreadable text is ``other``
    and neutral."""
    text = (text or "")[:5000]
    language = guess_language(text, declared_language)
    asks = "?" in text
    if language not in SUPPORTED_LANGUAGES:
        category = "question" if asks else "other"
        return Verdict(category, "neutral", 0.0, "", "unsupported-language")
    analyzer = _analyzer(language)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = float(analyzer.polarity_scores(text)["compound"])
    except Exception:  # a lexicon edge case must not lose the message
        score = 0.0
    tone = _tone(score)
    asks = asks or bool(_QUESTION_START[language].search(text))
    complains = bool(_COMPLAINT_CUES[language].search(text))
    if complains or (tone == "negative" and not asks):
        category = "complaint"
        tone = "negative" if complains and tone != "positive" else tone
    elif asks:
        category = "question"
    elif score >= PRAISE_AT:
        category = "praise"
    else:
        category = "other"
    method = "vader-3.3.2" if language == "en" else "vader-fr-1.3.4"
    return Verdict(category, tone, round(score, 4), language, f"{method}+rules")
