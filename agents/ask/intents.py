"""What a question asks (the intent) and about what (the exercise, the time range), by rules.

Why rules first: the offline planner must work with no network and answer in milliseconds,
and questions about one's own workout are worded in a small number of regular ways. Each rule
is a regular expression with a precedence, so a wrong reading can be traced to one line and
fixed there. Where no rule fires but the question is plainly about the workout, the caller
asks the local language model to *choose* among the intents (choice scoring: it can only ever
return one of them), never to generate free text.

Exercise words go through the one label vocabulary (`countllm.labels`), then, for a phrase it
does not know ("how many of those star things?"), through the shipped sentence-embedding model
(MiniLM), which is loaded only then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from countllm import labels

from .timerange import TimeSlots, parse_time_slots

# (intent, pattern) in precedence order: the first pattern that matches decides.
RULES: tuple[tuple[str, str], ...] = (
    ("unsupported", r"\b(weather|joke|capital of|recipe|stock|president|football score|translate|poem)\b"),
    ("summary", r"\bhow many of each\b|\bwhat (?:exercises|workouts?|movements|did (?:i|he|she|they|we) do|"
                r"have (?:i|we) done|happened)\b|\bsummar(?:y|ise|ize)\b|\boverview\b|\bbreak ?down\b|"
                r"\beach exercise\b|\bwhich exercises\b"),
    ("sets", r"\bhow many (?:sets|rounds)\b|\b(?:list|split|show)\b.*\bsets\b|\beach set\b|\bper set\b|"
             r"\bsets (?:did|were|are)\b"),
    ("locate", r"\bhow many (?:times )?(?:did (?:i|he|she|they|we) )?(?:rest|pause|stop|take a break|breaks?|"
               r"pauses?)\b|\bhow long (?:did|was|were) (?:i|he|she|they|we|my|the)? ?(?:rest|break|pause)"),
    ("tempo", r"\bhow long (?:was|were|did|does|is|are|do)\b.*\b(?:each|every|a|one|the|my|per)\b.*"
              r"\b(?:reps?|repetitions?|cycles?|squats?|push-?ups?)\b|\btempo\b|\bpace\b|\bslow(?:ing|ed|er)?\b|"
              r"\bspeed(?:ing)? up\b|\bfast(?:er)?\b|\bspeed\b|\bseconds? (?:per|each|a) (?:rep|repetition)\b|"
              r"\bduration\b|\bconsistent\b|\btired\b|\bfatigue"),
    ("count", r"\bhow many\b|\bcount\b|\bnumber of\b|\bhow much\b|\btotal\b"),
    ("recognize", r"\bwhat (?:exercise|movement|activity|sport|workout|kind of exercise|type of exercise)\b|"
                  r"\bwhich (?:exercise|movement|activity)\b|\bwhat (?:am|was|is|are|were) (?:i|he|she|they|we|"
                  r"the person|this person|this guy|this woman|this man|the athlete) doing\b|"
                  r"\bwhat (?:is|was) (?:this|that|being done|being performed|happening)\b|"
                  r"\bname (?:of )?the exercise\b|"
                  r"\bidentify\b|\brecogni[sz]e\b|\bwhat'?s (?:this|that|the exercise|being done)\b"),
    ("locate", r"\bwhen\b|\bwhere in\b|\bat what (?:time|point)\b|\brest(?:ed|ing|s)?\b|\bbreaks?\b|"
               r"\bpaus(?:e|ed|es|ing)\b|\btimestamps?\b|\bwhat time\b"),
    ("count", r"\breps?\b|\brepetitions?\b|\btimes\b|\bdid i (?:do|make|finish|complete)\b"),
)
_COMPILED = tuple((intent, re.compile(pattern)) for intent, pattern in RULES)

# Words that say the question is about the workout even when no rule fired (then the local
# model chooses the intent); a question with none of them and no rule is unsupported.
WORKOUT_WORDS = re.compile(r"\b(rep|reps|repetition|exercise|workout|set|sets|video|clip|training|gym|did i|"
                           r"my form|movement|motion|cycle)\b")
GENERIC_COUNT_WORDS = {"rep", "reps", "repetition", "repetitions", "time", "times", "cycle", "cycles", "one",
                       "ones", "exercise", "exercises", "thing", "things", "movement", "movements", "set", "sets",
                       "total", "in", "of", "did", "do", "were", "are", "was", "i", "he", "she", "they", "we",
                       "the", "this", "that", "these", "those", "there", "video", "clip", "altogether"}
EMBEDDING_MATCH = 0.62  # MiniLM cosine a phrase needs to be read as an exercise of the vocabulary


@dataclass(frozen=True)
class Reading:
    """One question as the rules read it."""

    intent: str | None  # None: no rule fired (the planner may ask the local model)
    exercise: str | None  # a label id
    exercise_phrase: str | None  # the words naming an exercise the vocabulary does not know
    time: TimeSlots
    about_workout: bool
    rule: str = ""  # the pattern that fired, for the notes of a wrong reading

    @property
    def has_time(self) -> bool:
        return self.time.any


def read_question(question: str, embed_unknown: bool = True) -> Reading:
    """Intent, exercise and time slots of `question` (see the module doc)."""
    q = " " + " ".join(question.lower().replace("’", "'").split()) + " "
    intent, rule = None, ""
    for name, pattern in _COMPILED:
        if pattern.search(q):
            intent, rule = name, pattern.pattern[:60]
            break
    exercise = labels.find_in_text(question)
    phrase = None
    if exercise is None:
        phrase = unknown_exercise_phrase(q)
        if phrase and embed_unknown:
            exercise = nearest_label(phrase)
            if exercise is not None:
                phrase = None
    time = parse_time_slots(question)
    if intent == "count" and time.set_index is None and re.search(r"\bhow many sets\b", q):
        intent = "sets"
    about = bool(intent) or exercise is not None or bool(WORKOUT_WORDS.search(q))
    return Reading(intent=intent, exercise=exercise, exercise_phrase=phrase, time=time, about_workout=about,
                   rule=rule)


def unknown_exercise_phrase(q: str) -> str | None:
    """The words after "how many" (or "count the") that could name an exercise, else None."""
    match = re.search(r"\b(?:how many|count(?: the)?|number of)\s+(?P<p>[a-z][a-z\- ]*?)"
                      r"(?=\s+(?:did|do|does|were|are|was|have|has|can|in|after|before|during|between|from|"
                      r"since|until|at|on|for|i|he|she|they|we|were)\b|[?.!,]|\s*$)", q)
    if not match:
        return None
    words = [w for w in match.group("p").split() if w not in GENERIC_COUNT_WORDS]
    return " ".join(words) or None


def nearest_label(phrase: str) -> str | None:
    """The vocabulary id whose name or alias is nearest `phrase` in MiniLM space, if near enough."""
    encode, ids, matrix = _label_embeddings()
    vector = encode([phrase])[0]
    scores = matrix @ vector
    best = int(scores.argmax())
    return ids[best] if float(scores[best]) >= EMBEDDING_MATCH else None


@lru_cache(maxsize=1)
def _label_embeddings():  # noqa: ANN202 — (encode, ids, matrix)
    from countllm.agents.mining.cooc_matching import load_sentence_encoder  # noqa: PLC0415 — seconds

    encode = load_sentence_encoder(None)
    ids, texts = [], []
    for label_id in labels.known_ids():
        if labels.is_placeholder(label_id):
            continue
        for spelling in labels.aliases(label_id):
            ids.append(label_id)
            texts.append(spelling)
    return encode, ids, encode(texts)
