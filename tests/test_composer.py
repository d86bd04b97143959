"""The lite composer listens: it says the person's words back (pronouns swapped), answers questions in
kind, varies its openings and never repeats a sentence within a conversation, in both personas, all
three styles, and (with less reflection, but grammatically) in every reply language."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest

from mrrrme.contracts import FusedEmotion, Preferences, Turn
from services.dialogue import composer, english, listening, phrases

PROBABILITIES = {"Neutral": [0.7, 0.1, 0.1, 0.1], "Happy": [0.1, 0.7, 0.1, 0.1], "Sad": [0.1, 0.1, 0.7, 0.1],
                 "Angry": [0.1, 0.1, 0.1, 0.7]}  # fmt: skip
PERSONAS = ["therapist", "coach"]
STYLES = ["brief", "balanced", "detailed"]


def turn(text: str, emotion: str = "Neutral", turn_id: str = "t", **prefs: str) -> Turn:
    fused = FusedEmotion(session_id="c1", utterance_id="u", emotion=emotion, intensity=0.6,  # type: ignore[arg-type]
                         probabilities=PROBABILITIES[emotion])  # fmt: skip
    return Turn(session_id="c1", turn_id=turn_id, text=text, fused=fused, preferences=Preferences(**prefs))  # type: ignore[arg-type]


# A varied conversation: feelings, events, questions, requests and small talk (none of these sentences
# appears in the composer's code).
CONVERSATION = [
    ("Neutral", "hello there"),
    ("Neutral", "how's it going?"),
    ("Sad", "I've been feeling really lonely since I moved to a new city"),
    ("Sad", "my roommate barely talks to me"),
    ("Neutral", "what can I do about it?"),
    ("Angry", "my manager keeps giving me extra shifts without asking"),
    ("Neutral", "can you tell me something nice about cats?"),
    ("Happy", "thank you, I needed that"),
    ("Happy", "I finally finished my thesis yesterday"),
    ("Neutral", "what do you think about learning guitar?"),
    ("Sad", "I keep worrying about money"),
    ("Neutral", "should I ask my parents for help?"),
    ("Neutral", "why do I always feel so anxious on Sundays?"),
    ("Angry", "my brother borrowed my car and scratched it"),
    ("Neutral", "tell me a joke please"),
    ("Happy", "the weekend with my friends was amazing"),
    ("Neutral", "are you a real person?"),
    ("Sad", "I don't know if my exam results will be good enough"),
    ("Neutral", "I think I'll go for a walk in the park"),
    ("Neutral", "thanks for listening, goodbye"),
]

STOP_WORDS = set(
    """about after again also always anything asking been being could does doing don't each even ever from
    have having here into just know like made make more much need needed only over really said should some
    something than that them then there these they thing think this those very want well were what when where
    which while will with without would your yours you're i've i'll it's that's feeling feel good nice tell
    thank thanks please goodbye hello there""".split()
)  # fmt: skip
"""The test's own notion of words that carry no content (independent of the composer's list)."""


def content(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if len(w) >= 4 and w not in STOP_WORDS}


def refers(user: str, reply: str) -> bool:
    """The reply names something the person said: one of their content words, whole or with an ending
    ("joke" in "jokes")."""
    said = set(re.findall(r"[a-z']+", reply.lower()))
    return any(r.startswith(w) and len(r) - len(w) <= 2 for w in content(user) for r in said)


def converse(persona: str, style: str, seed: str, window: int | None = None) -> list[list[str]]:
    """The conversation as the service would run it: `recent` holds the assistant's earlier replies
    (all of them, or the last `window`), `said_before` the person's earlier turns."""
    replies: list[list[str]] = []
    users: list[str] = []
    for i, (emotion, text) in enumerate(CONVERSATION):
        shown = [" ".join(r) for r in replies]
        recent = shown[-window:] if window else shown
        item = turn(text, emotion, f"{seed}-{i}", personality=persona, style=style)
        reply, _, _ = composer.compose(item, recent, said_before=users)
        assert reply and all(s.strip() for s in reply)
        replies.append(reply)
        users.append(text)
    return replies


def sentences_of(replies: list[list[str]]) -> list[str]:
    return [s for reply in replies for s in re.split(r"(?<=[.!?])\s+", " ".join(reply)) if s]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("seed", ["a", "b", "c"])
def test_no_sentence_is_repeated_within_the_conversation(persona: str, style: str, seed: str) -> None:
    said = sentences_of(converse(persona, style, seed))
    repeated = [s for s, n in Counter(said).items() if n > 1]
    assert repeated == []


REFERENCE_AT_LEAST = 13
"""Of the 20 replies, measured over both personas, all styles and 8 sets of turn ids: 13 to 15 name a
content word of the person's turn. Five turns have no content word to name ("hello there", "how's it
going?", "what can I do about it?", "thank you, I needed that", "thanks for listening, goodbye"; the
reply to "what can I do about it?" names the earlier topic, which this count does not credit), and "are
you a real person?" is answered about the assistant."""


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("seed", ["a", "b", "c"])
def test_replies_refer_to_the_persons_words(persona: str, style: str, seed: str) -> None:
    replies = converse(persona, style, seed)
    referring = [refers(text, " ".join(reply)) for (_, text), reply in zip(CONVERSATION, replies, strict=True)]
    missed = [" ".join(r) for r, ok in zip(replies, referring, strict=True) if not ok]
    assert sum(referring) >= REFERENCE_AT_LEAST, missed


@pytest.mark.parametrize("persona", PERSONAS)
def test_openings_vary(persona: str) -> None:
    openings = [" ".join(re.findall(r"[\w']+", r[0].lower())[:2]) for r in converse(persona, "balanced", "o")]
    assert all(a != b for a, b in itertools.pairwise(openings))  # never the same start twice in a row
    assert len(set(openings)) >= 15


def test_a_short_window_of_recent_replies_still_avoids_repeating_them() -> None:
    """What the service passes today (the last 3 replies): none of those is repeated."""
    replies = converse("therapist", "detailed", "w", window=3)
    for i, reply in enumerate(replies):
        before = set(sentences_of(replies[max(0, i - 3) : i]))
        assert not set(sentences_of([reply])) & before, i


# --- reflection --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "said, back",
    [
        ("I lost my keys", "you lost your keys"),
        ("I am tired of my job", "you are tired of your job"),
        ("I was late again", "you were late again"),
        ("I'm proud of myself", "you're proud of yourself"),
        ("we sold our house", "you sold your house"),
        ("you never listen to me", "I never listen to you"),
        ("I told you about my plan", "you told me about your plan"),
    ],
)
def test_pronouns_are_swapped(said: str, back: str) -> None:
    assert listening.swap_person(said) == back


def test_a_statement_is_said_back_in_the_second_person() -> None:
    assert (
        listening.reflect_clause("I forgot my sister's birthday, and she is upset")
        == "you forgot your sister's birthday"
    )
    assert listening.reflect_clause("My knee hurts after running") == "your knee hurts after running"
    assert listening.reflect_clause("the") is None  # not a clause
    assert listening.reflect_clause(" ".join(["I walked"] + ["far"] * 20)) is None  # too long to echo


@pytest.mark.parametrize(
    "said, about",
    [
        ("I lost my keys at the station", "your keys"),
        ("I have a job interview on Monday", "the job interview"),
        ("I'm worried about exams", "exams"),
        ("honestly it is just so annoying when the printer at work broke again", "the printer"),
        ("I had a very long day at school", "school"),
    ],
)
def test_the_topic_is_a_noun_phrase_said_back(said: str, about: str) -> None:
    assert listening.topic(said) == about


def test_keywords_skip_stop_words() -> None:
    words = listening.content_words("I really think that my garden and the tomatoes are doing well")
    assert words == ["garden", "tomatoes"]


def test_a_statement_reply_carries_the_persons_words_in_every_persona_and_style() -> None:
    for persona in PERSONAS:
        for style in STYLES:
            reply, _, _ = composer.compose(
                turn("my dog ran away last night", "Sad", personality=persona, style=style), []
            )
            assert len(reply) == composer.SENTENCES[style]
            assert "your dog" in " ".join(reply), (persona, style, reply)
            assert "my dog" not in " ".join(reply)


# --- questions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_a_request_about_the_weather_is_answered_not_met_with_an_emotion_template(persona: str, style: str) -> None:
    reply, _, _ = composer.compose(turn("tell me something nice about the weather", "Happy", personality=persona,
                                        style=style), [])  # fmt: skip
    assert "weather" in reply[0].lower()
    every_ack = {s for options in phrases.ENGLISH.acknowledge.values() for s in options}
    assert not every_ack & set(reply)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_what_should_i_do_gets_a_suggestion_in_the_personas_manner(persona: str, style: str) -> None:
    reply, _, _ = composer.compose(turn("what should I do?", personality=persona, style=style), [])
    own = set(phrases.ENGLISH.advice[persona])
    other = set(phrases.ENGLISH.advice["coach" if persona == "therapist" else "therapist"])
    assert reply[0] in own and not other & set(reply)


def test_what_should_i_do_is_about_what_the_person_said_before() -> None:
    for persona in PERSONAS:
        item = turn("what should I do?", "Sad", personality=persona)
        reply, _, _ = composer.compose(item, [], said_before=["my landlord wants to raise the rent"])
        assert "your landlord" in reply[0], reply
        filled = [t.format(topic="your landlord") for t in english.ADVICE[persona]]
        assert reply[0] in filled


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_how_are_you_is_answered(persona: str, style: str) -> None:
    reply, _, _ = composer.compose(turn("how are you doing today?", personality=persona, style=style), [])
    assert reply[0] in phrases.ENGLISH.how_are_you[persona]
    if style != "brief":
        assert reply[1] in phrases.ENGLISH.ask_back[persona]  # and it turns back to the person


def test_should_i_weighs_the_persons_own_option() -> None:
    for persona in PERSONAS:
        reply, _, _ = composer.compose(turn("Should I move in with my girlfriend?", personality=persona), [])
        assert "move in with your girlfriend" in reply[0]


def test_a_why_question_is_said_back_and_answered_honestly() -> None:
    reply, _, _ = composer.compose(turn("why can't I focus at work?", style="detailed"), [])
    assert "why you can't focus at work" in reply[0]
    assert reply[1] in phrases.ENGLISH.question


def test_questions_about_the_assistant_are_answered_truthfully() -> None:
    reply, _, _ = composer.compose(turn("are you a robot?"), [])
    assert "AI" in reply[0]
    opinion, _, _ = composer.compose(turn("what do you think about football?"), [])
    assert "football" in opinion[0] and ("opinion" in opinion[0] or "AI" in opinion[0] or "myself" in opinion[0])


def test_masking_and_the_fused_emotion_still_lead() -> None:
    fused = FusedEmotion(session_id="c1", utterance_id="u", emotion="Happy", intensity=0.6,
                         probabilities=[0.1, 0.6, 0.2, 0.1], masking=True)  # fmt: skip
    item = Turn(session_id="c1", turn_id="m", text="my exams went fine", fused=fused,
                preferences=Preferences(style="detailed"))  # fmt: skip
    reply, emotion, _ = composer.compose(item, [])
    assert reply[0] in phrases.ENGLISH.masking["voice"] and emotion == "Neutral"
    assert "your exams" in " ".join(reply)


# --- other languages ---------------------------------------------------------------------------------

NATIVE = {
    "nl": ["Mijn baas was vandaag heel boos op me.", "Wat moet ik doen?", "Hoe gaat het met jou?",
           "Waarom ben ik zo moe?"],
    "de": ["Mein Chef hat mich heute angeschrien.", "Was soll ich tun?", "Wie geht es dir?", "Warum bin ich so müde?"],
    "fr": ["Mon patron m'a crié dessus aujourd'hui.", "Que dois-je faire ?", "Comment vas-tu ?",
           "Pourquoi je suis si fatigué ?"],
    "es": ["Mi jefe me gritó hoy.", "¿Qué debo hacer?", "¿Cómo estás?", "¿Por qué estoy tan cansado?"],
    "it": ["Il mio capo mi ha urlato contro oggi.", "Cosa devo fare?", "Come stai?", "Perché sono così stanco?"],
    "pt": ["Meu chefe gritou comigo hoje.", "O que devo fazer?", "Como você está?", "Por que estou tão cansado?"],
}  # fmt: skip
ENGLISH_MARKERS = re.compile(r"\b(you|your|sounds|what|that|the|and|about)\b", re.I)


def _book_sentences(book: phrases.Phrasebook) -> set[str]:
    found: set[str] = set()
    for value in vars(book).values():
        for options in value.values() if isinstance(value, dict) else [value]:
            found.update(options)
    return found


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("language", sorted(NATIVE))
def test_other_languages_answer_from_their_own_book_with_no_english_reflection(
    language: str, persona: str, style: str
) -> None:
    book = phrases.BOOKS[language]
    known = _book_sentences(book)
    recent: list[str] = []
    for i, text in enumerate([*NATIVE[language], "I lost my keys and my boss is angry"]):
        item = turn(text, "Sad", f"{language}{i}", language=language, personality=persona, style=style)
        reply, _, _ = composer.compose(item, recent)
        assert reply and len(reply) <= composer.SENTENCES[style]
        for sentence in reply:
            quoted = [r for r in book.reflect if re.fullmatch(re.escape(r).replace(r"\{quote\}", ".+"), sentence)]
            assert sentence in known or quoted, (language, sentence)
            outside_quote = re.sub(r"[“„«‘].*[”“»’]", "", sentence)
            assert not ENGLISH_MARKERS.search(outside_quote), (language, sentence)
        recent.append(" ".join(reply))
    how, _, _ = composer.compose(turn(NATIVE[language][2], language=language, personality=persona), [])
    assert how[0] in book.how_are_you[persona]
    advice, _, _ = composer.compose(turn(NATIVE[language][1], language=language, personality=persona), [])
    assert advice[0] in book.advice[persona]


def test_every_book_has_the_question_parts() -> None:
    for language, book in phrases.BOOKS.items():
        for persona in PERSONAS:
            for part in (book.hello, book.how_are_you, book.ask_back, book.advice, book.check_in, book.open_door):
                assert len(part[persona]) >= 3, language
        assert len(book.question) >= 3 and len(book.thanks) >= 3 and len(book.bye) >= 3, language


@pytest.mark.parametrize("language", sorted(NATIVE))
def test_a_long_conversation_in_another_language_keeps_its_length_and_spaces_out_repeats(language: str) -> None:
    """A phrasebook has a few phrasings of each part: in 20 turns they come round again, the one said
    longest ago first, so a reply keeps its style's length and never repeats one of the last two."""
    statement = NATIVE[language][0]
    replies: list[list[str]] = []
    for i in range(20):
        item = turn(statement, "Sad", f"long{i}", language=language, style="detailed")
        reply, _, _ = composer.compose(item, [" ".join(r) for r in replies])
        assert len(reply) == 3, reply
        for earlier in replies[-2:]:
            assert not set(reply) & set(earlier), (reply, earlier)
        replies.append(reply)


def test_words_in_another_language_are_not_run_through_english_rules() -> None:
    """A German sentence typed while the replies are English: the English book, without its words mixed in."""
    reply, _, _ = composer.compose(turn("Mein Chef hat mich heute angeschrien", "Sad", style="balanced"), [])
    assert reply[0] in phrases.ENGLISH.acknowledge["Sad"] and reply[1] in phrases.ENGLISH.therapist
    assert listening.looks_english("Arbeit war furchtbar. Sonst gut") is False
    assert listening.looks_english("nobody understands me") and listening.looks_english("will things get better")


def test_markup_links_and_shouting_are_not_said_back() -> None:
    reply, _, _ = composer.compose(
        turn("<script>steal()</script> I LOST MY JOB, see https://example.com/x", "Sad", style="detailed"), []
    )
    text = " ".join(reply)
    assert "your job" in text and "steal" not in text and "http" not in text and "JOB" not in text
    long, _, _ = composer.compose(turn("x" * 5000 + " my week was long", style="detailed"), [])
    assert all(len(s) < 300 for s in long)


def test_what_is_said_to_the_assistant_is_not_taken_as_the_persons_topic() -> None:
    assert listening.listen("you're a really good listener", "en").topic is None
    assert listening.listen("my garden is flooded", "en").topic == "your garden"
