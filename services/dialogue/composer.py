"""The lite dialogue backend: a deterministic, persona- and emotion-aware reply composer (no LLM).

What the person said is read first (`listening.py`): small talk and questions get an answer in kind
("how are you?" is answered, "what should I do?" gets a suggestion in the persona's manner, "tell me
something nice about the weather" gets something nice about the weather); a statement gets an
acknowledgement of the fused emotion (or the masking flag), a reflection of what they said, and the
persona's move (the therapist explores, or savours a good feeling; the coach proposes a step). In
English the sentences carry the person's own words turned round ("my keys" -> "your keys",
`english.py`); the other reply languages answer from their phrasebook (`phrases.py`) and quote the
person word for word, because rules that swap pronouns there would break the grammar.

Each part has several phrasings; the choice is a hash of the turn id, so the same turn gives the same
reply. No sentence of the replies the composer is shown (`recent`) is said again, and the opening words
of the last replies are not reused; a part whose every phrasing is used up is left out rather than
repeated. Brief style keeps one sentence, balanced two, detailed three.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from mrrrme.contracts import FusedEmotion, Turn
from mrrrme.emotions import CONFIDENT
from services.dialogue import english as en
from services.dialogue.listening import MAX_WORD, Heard, is_person, listen, sentences, topic
from services.dialogue.phrases import Phrasebook, book

SENTENCES = {"brief": 1, "balanced": 2, "detailed": 3}
REPLY_EMOTION = {"Happy": "Happy", "Sad": "Sad", "Angry": "Neutral", "Neutral": "Neutral"}
"""The avatar mirrors joy and sadness gently and meets anger calmly."""

OPENING_WORDS = 2
"""Replies whose first two words match one of the last two replies' sound canned: they are avoided."""


def _opening(sentence: str) -> str:
    return " ".join(re.findall(r"[\w']+", sentence.lower())[:OPENING_WORDS])


def _split(reply: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?…])\s+", reply.strip()) if s]


class Picker:
    """Chooses phrasings by hash of the turn id, never one already said in the replies it was shown.

    When every phrasing of a part was said (a long conversation in a language whose book has a few of
    each), `reuse` takes the one said longest ago instead of leaving the part out."""

    def __init__(self, key: str, recent: Sequence[str], reuse: bool = False) -> None:
        self.key = key
        self.recent = list(recent)
        self.reuse = reuse
        self.said = {sentence for reply in recent for sentence in _split(reply)}
        self.said_text = " ".join(recent)
        self.openings = {_opening(first[0]) for first in (_split(r) for r in recent[-2:]) if first}
        self.chosen: set[str] = set()
        """The openings of this reply's sentences so far: two sentences starting alike read as a list."""

    def fresh(self, sentence: str) -> bool:
        return sentence not in self.said and sentence not in self.said_text

    def _last_said(self, sentence: str) -> int:
        return max((i for i, reply in enumerate(self.recent) if sentence in reply), default=-1)

    def pick(self, *families: list[str], tag: str, first: bool = False, reuse: bool | None = None) -> str | None:
        """The first family with a fresh phrasing wins (families go from most to least specific to what
        the person said). None when every phrasing was said already, unless reusing."""
        start = int(hashlib.sha256((self.key + tag).encode()).hexdigest()[:8], 16)
        options: list[str] = []
        for family in families:
            options = [family[(start + i) % len(family)] for i in range(len(family))] if family else []
            fresh = [o for o in options if self.fresh(o)]
            avoid = self.chosen | self.openings if first else self.chosen
            varied = [o for o in fresh if _opening(o) not in avoid]
            if varied or fresh:
                return self._take((varied or fresh)[0])
        last = next((f for f in reversed(families) if f), [])
        if (self.reuse if reuse is None else reuse) and last:
            return self._take(min(last, key=self._last_said))  # min keeps the hash order among equals
        return None

    def _take(self, choice: str) -> str:
        self.said.add(choice)
        self.chosen.add(_opening(choice))
        return choice


def _fill(templates: list[str], **values: str | None) -> list[str]:
    """Templates with every placeholder they use given; a sentence starting with a placeholder is
    capitalised. Templates needing a value that is missing are dropped."""
    out: list[str] = []
    for template in templates:
        names = re.findall(r"\{(\w+)\}", template)
        if all(values.get(name) for name in names):
            text = template.format(**{name: values[name] for name in names})
            out.append(text[0].upper() + text[1:])
    return out


def _masked_by(fused: FusedEmotion) -> str:
    """What the smile is at odds with: the words when they say Sad or Angry, otherwise the voice."""
    words = fused.text.reading if fused.text else None
    heavy_words = words is not None and words.emotion in ("Sad", "Angry") and words.confidence >= CONFIDENT
    return "text" if heavy_words else "voice"


def _quote(text: str) -> str:
    """A short, safe echo of what the person said, word for word inside quotation marks: the first
    clause, no markup, at most 12 words."""
    said = sentences(text)  # markup, links and what scripts hide are gone
    clause = re.split(r"[.!?;]", said[0] if said else "", maxsplit=1)[0]
    words = [w for w in re.sub(r"[^\w\s',-]", "", clause).split() if len(w) <= MAX_WORD][:12]
    return " ".join(words) or "…"


class _Reply:
    """The parts of one reply, chosen with one picker so no sentence repeats."""

    def __init__(self, turn: Turn, recent: Sequence[str], said_before: Sequence[str]) -> None:
        self.turn = turn
        self.english = turn.preferences.language[:2].lower() == "en"
        # English sentences carry the person's words, so there are always fresh ones and a used-up part
        # is left out; a phrasebook alone runs out within a conversation, so its oldest phrasing returns.
        self.pick = Picker(turn.turn_id, recent, reuse=not self.english)
        self.book: Phrasebook = book(turn.preferences.language)
        self.persona = turn.preferences.personality
        self.fused = turn.fused
        self.masking = turn.fused is not None and turn.fused.masking
        self.emotion = turn.fused.emotion if turn.fused else "Neutral"
        self.heard: Heard = listen(turn.text, turn.preferences.language)
        # "What should I do?" is about what the person said just before: the topic of one of their last two
        # turns. A statement without a topic of its own keeps none: carried further, a topic goes stale.
        carry = self.english and self.heard.intent not in ("statement", "hello", "bye", "how_are_you")
        earlier = next((t for t in map(topic, reversed(said_before[-2:])) if t), None) if carry else None
        self.topic = self.heard.topic or earlier
        self.detailed = SENTENCES[turn.preferences.style] == 3
        self.extra: str | None = None

    # --- the parts ---------------------------------------------------------------------------------

    def masking_line(self) -> str | None:
        assert self.fused is not None
        return self.pick.pick(self.book.masking[_masked_by(self.fused)], tag="mask", first=True)

    def acknowledge(self, with_clause: bool) -> str | None:
        """The fused emotion acknowledged; in English with the person's statement or topic in it."""
        plain = self.book.acknowledge[self.emotion]
        if not self.english:  # when every acknowledgement was said: the person's words, quoted
            return self.pick.pick(plain, self._quoted(), tag="ack", first=True, reuse=False) or self.pick.pick(
                plain, tag="ack", first=True
            )
        clause = self.heard.clause if with_clause else None
        rich = _fill(en.COMBINED[self.emotion], clause=clause) + _fill(en.TOPICAL[self.emotion], topic=self.topic)
        return self.pick.pick(rich, plain, tag="ack", first=True)

    def _quoted(self) -> list[str]:
        return [r.format(quote=_quote(self.turn.text)) for r in self.book.reflect]

    def reflection(self) -> str | None:
        mirrored = _fill(en.MIRROR, clause=self.heard.clause) if self.english else []
        return self.pick.pick(mirrored, self._quoted(), tag="reflect")

    def move(self) -> str | None:
        """The persona's move: the coach proposes, the therapist explores a hard feeling or savours a
        good one (asking what weighs on someone who just said something good would not fit)."""
        happy = self.emotion == "Happy" and not self.masking
        if self.persona == "coach":  # a step, but not "what's in your control" to someone grieving
            mood = "coach_good" if happy else "coach_hard" if self.emotion == "Sad" else ""
            plain, kinds = self.book.coach, [mood, "coach_person" if is_person(self.topic) else "", "coach"]
        elif happy:
            plain, kinds = self.book.savour, ["savour"]
        else:
            plain, kinds = self.book.therapist, ["hard" if self.emotion in ("Sad", "Angry") else "open"]
        rich = [_fill(en.MOVES[kind], topic=self.topic) for kind in kinds if kind] if self.english else []
        return self.pick.pick(*rich, plain, tag="move")

    def answer(self) -> tuple[str | None, str | None]:
        """The answer to small talk or a question, and what follows it; (None, None) for a statement.
        `self.extra` is a second sentence of the answer for the detailed style, when there is one."""
        h, b, p = self.heard, self.book, self.persona
        pick = self.pick.pick
        subject = h.subject
        if h.intent == "hello":
            return pick(b.hello[p], tag="answer", first=True), pick(b.ask_back[p], tag="follow")
        if h.intent == "how_are_you":
            return pick(b.how_are_you[p], tag="answer", first=True), pick(b.ask_back[p], tag="follow")
        if h.intent == "thanks":
            return pick(b.thanks, tag="answer", first=True), pick(b.open_door[p], tag="follow")
        if h.intent == "bye":
            return pick(b.bye, tag="answer", first=True), None
        if h.intent == "advice":
            templates = en.ADVICE_PERSON if is_person(self.topic) else en.ADVICE
            rich = _fill(templates[p], topic=self.topic) if self.english else []
            first = pick(rich, b.advice[p], tag="answer", first=True)
            self.extra = pick(b.advice[p], tag="extra") if self.detailed else None
            return first, pick(b.check_in[p], tag="follow")
        if h.intent == "should":
            rich = _fill(en.SHOULD[p], what=subject)
            return pick(rich, b.advice[p], tag="answer", first=True), pick(b.check_in[p], tag="follow")
        if h.intent == "request_nice" or (h.intent == "request_about" and subject and en.nice_fact(subject)):
            if subject in ("you", "yourself"):
                answers = en.NICE_YOU
            elif subject:
                fact = en.nice_fact(subject)
                answers = [fact] if fact else _fill(en.NICE_ABOUT, subject=subject)
            else:
                answers = en.NICE
            follow = _fill(en.NICE_FOLLOW, subject=subject if subject not in ("you", "yourself") else None)
            return pick(answers, en.NICE, tag="answer", first=True), pick(follow, en.NICE_FOLLOW_PLAIN, tag="follow")
        if h.intent == "request_about":
            about = en.ABOUT_PERSON if is_person(subject) else en.ABOUT
            return (pick(_fill(about, subject=subject), b.question, tag="answer", first=True),
                    pick(_fill(en.ABOUT_FOLLOW, subject=subject), b.check_in[p], tag="follow"))  # fmt: skip
        if h.intent == "joke":
            return pick(en.JOKES, tag="answer", first=True), pick(en.JOKE_FOLLOW, tag="follow")
        if h.intent == "opinion":
            return (pick(_fill(en.OPINION, subject=subject), b.question, tag="answer", first=True),
                    pick(_fill(en.OPINION_FOLLOW, subject=subject), tag="follow"))  # fmt: skip
        if h.intent == "about_you":
            return pick(en.ABOUT_ME, tag="answer", first=True), pick(en.ABOUT_ME_FOLLOW, b.open_door[p], tag="follow")
        if h.intent == "memory":  # honest: the composer sees only the replies and turns it is given
            return pick(en.MEMORY, tag="answer", first=True), pick(en.MEMORY_FOLLOW, tag="follow")
        if h.intent == "allowed":
            return pick(_fill(en.ALLOWED, what=subject), en.NORMAL, tag="answer", first=True), self.move()
        reassurance = {"normal": en.NORMAL, "reassure": en.REASSURE, "better": en.BETTER}
        if h.intent in reassurance:
            return pick(reassurance[h.intent], b.question, tag="answer", first=True), self.move()
        if h.intent == "question":
            asked = _fill(en.ASKED, asked=h.asked) if self.english else []
            first = pick(asked, b.question, tag="answer", first=True)
            if asked and self.detailed:  # said back, then honest about what a rule-based reply can know
                self.extra = pick(b.question, tag="extra")
            if self.english and not (self.topic or h.asked):  # "why?": nothing to explore yet
                return first, pick(en.CLARIFY, tag="follow")
            return first, self.move()
        return None, None

    # --- the reply ---------------------------------------------------------------------------------

    def sentences(self) -> list[str]:
        count = SENTENCES[self.turn.preferences.style]
        answer, follow = self.answer()
        if answer is not None or self.heard.intent != "statement":
            parts = self._answered(answer, follow, count)
        else:
            parts = self._statement(count)
        reply = [s for s in parts if s][:count]
        if not reply:  # everything was said already: the acknowledgement said longest ago beats silence
            reply = [self.pick.pick(self.book.acknowledge[self.emotion], tag="ack", reuse=True) or "…"]
        return reply

    def _statement(self, count: int) -> list[str | None]:
        if count == 3:
            first = self.masking_line() if self.masking else self.acknowledge(with_clause=False)
            return [first, self.reflection(), self.move()]
        first = self.masking_line() if self.masking else self.acknowledge(with_clause=True)
        return [first, self.move()]

    def _answered(self, answer: str | None, follow: str | None, count: int) -> list[str | None]:
        if count == 1:
            return [answer]
        if count == 2:
            return [answer, self.masking_line() if self.masking else follow]
        if self.masking:
            return [self.masking_line(), answer, follow]
        if self.extra:
            return [answer, self.extra, follow]
        if self.heard.intent not in ("hello", "thanks", "bye", "how_are_you"):
            if self.english and self.heard.clause:
                return [self.acknowledge(with_clause=True), answer, follow]  # "My day was awful. What now?"
            if self.emotion != "Neutral":
                return [self.acknowledge(with_clause=False), answer, follow]
        return [answer, follow, self.pick.pick(self.book.open_door[self.persona], tag="door")]


def compose(
    turn: Turn, recent: list[str], returning: bool = False, said_before: Sequence[str] = ()
) -> tuple[list[str], str, float]:
    """Reply sentences, the avatar's emotion and its intensity.

    `recent`: the assistant's earlier replies in this conversation (oldest first); none of their
    sentences is said again, so the more of the conversation this holds, the longer replies stay fresh.
    `returning`: the person has a summary from an earlier session, so the greeting welcomes them back.
    `said_before`: the person's earlier turns (oldest first), optional: "what should I do?" then gets a
    suggestion about what they last talked about."""
    persona = turn.preferences.personality
    if turn.kind == "greeting":
        phrases = book(turn.preferences.language)
        options = phrases.welcome_back if returning else phrases.greeting
        chosen = Picker(turn.turn_id, recent).pick(options[persona], tag="")
        return [chosen or options[persona][0]], "Happy", 0.5
    reply = _Reply(turn, recent, said_before)
    sentences = reply.sentences()
    fused = turn.fused
    if fused is not None and fused.masking:
        return sentences, "Neutral", 0.4  # calm attention: not the smile the words contradict
    intensity = min(0.8, fused.intensity) if fused else 0.5
    return sentences, REPLY_EMOTION[reply.emotion], intensity
