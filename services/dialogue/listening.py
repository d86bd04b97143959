"""What the lite composer hears in a turn: what kind of turn it is, and (in English) the person's words
turned round to be said back to them.

Everything here is rules, no model: the composer must stay offline, deterministic and cheap.

- **Intent**, in every reply language: small talk (hello, thanks, bye, "how are you?"), a request for
  advice ("what should I do?"), and, in English, a finer split of questions and requests ("should I ...?",
  "tell me something nice about ...", "what do you think of ...", "who are you?") that the composer can
  answer in kind. Questions are recognised without a question mark too: speech recognition gives none.
- **Reflection** (English only): the first statement clause with first and second person swapped
  ("I lost my keys" -> "you lost your keys"), the topic as a noun phrase ("my new job" -> "your new job"),
  and the content words (stop words, pronouns, auxiliaries and evaluative words left out). A clause is
  reflected only when it is short and looks like a sentence (it has a subject or a verb we know), so a
  fragment is never forced into a template; other languages are quoted word for word instead (swapping
  pronouns there needs verb conjugation that rules would get wrong).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_TEXT = 1000
"""Only the start of a long turn is read: what it is about is said there, and the rules stay cheap."""
MAX_WORD = 24
"""A longer "word" is not one (a pasted link, a key held down): it is never said back."""
MAX_CLAUSE_WORDS = 12
"""Longer clauses are not said back: a long echo sounds like a parrot, and the odds of a bad swap grow."""

# --- intents in every language ------------------------------------------------------------------------

_SMALL_TALK: dict[str, dict[str, str]] = {
    # Whole-turn patterns (after normalising: lower case, no accents, no punctuation).
    "how_are_you": {
        "en": r"\b(how\s+are\s+you|how\s+(are|r)\s+u|how('?s|\s+is)\s+it\s+going|how('?s|\s+is)\s+everything|"
        r"how\s+are\s+things\s+with\s+you|"
        r"how\s+have\s+you\s+been|how\s+(is|was)\s+your\s+day|how\s+do\s+you\s+feel|you\s+doing\s+(ok|okay|well)|^what'?s\s+up|^whats\s+up|^sup$)\b",
        "nl": r"\b(hoe\s+gaat\s+het(\s+met\s+(jou|je|u))?|hoe\s+is\s+het(\s+met\s+(jou|je))?|alles\s+goed|"
        r"hoe\s+voel\s+jij\s+je)\b",
        "de": r"\b(wie\s+geht('?s|\s+es)(\s+(dir|ihnen))?|wie\s+fuhlst\s+du\s+dich|alles\s+gut\s+bei\s+dir)\b",
        "fr": r"\b(comment\s+(ca|tu)\s+va[s]?|comment\s+vas\s*-?\s*tu|ca\s+va\s+toi|comment\s+allez\s*-?\s*vous|"
        r"tu\s+vas\s+bien)\b",
        "es": r"\b(como\s+estas|que\s+tal(\s+estas)?|como\s+te\s+va|como\s+te\s+sientes\s+tu)\b",
        "it": r"\b(come\s+stai|come\s+va|tutto\s+bene\s+(tu|a\s+te))\b",
        "pt": r"\b(como\s+(voce\s+)?(esta|vai)|tudo\s+bem(\s+com\s+voce)?|como\s+vai\s+voce)\b",
    },
    "advice": {
        "en": r"\b(what\s+(should|could|can|do|would)\s+(i|we)\s+do|what\s+do\s+you\s+(suggest|recommend|advise)|"
        r"(any|some|give\s+me\s+(some|an)?)\s*(advice|tips?|suggestions?|ideas?)|how\s+(do|can|should|"
        r"could)\s+(i|we)\s+"
        r"(cope|deal|handle|fix|stop|get\s+over|manage|sleep|calm|relax|start|focus|improve|feel\s+better)|"
        r"what\s+would\s+you\s+do|help\s+me\s+(with|figure|decide|to)|can\s+you\s+help(\s+me)?|what\s+now|"
        r"i\s+need\s+(some\s+)?(help|advice)|^help(\s+me)?(\s+please)?$|^please\s+help(\s+me)?$)\b",
        "nl": r"\b(wat\s+(moet|kan|zou)\s+ik\s+(doen|nu)|heb\s+je\s+(een\s+)?(advies|tips?|ideeen)|"
        r"wat\s+raad\s+je\s+(me\s+)?aan|"
        r"hoe\s+(kan|moet)\s+ik)\b",
        "de": r"\b(was\s+(soll|kann|konnte|sollte)\s+ich\s+(tun|machen)|hast\s+du\s+(einen\s+)?(rat|tipps?|ideen)|"
        r"was\s+(ratst|empfiehlst)\s+du|wie\s+(kann|soll)\s+ich)\b",
        "fr": r"\b(que\s+(dois|devrais|peux|pourrais)\s*-?\s*je\s+faire|qu'?est\s*-?\s*ce\s+que\s+je\s+(dois|"
        r"devrais|peux)\s+faire|"
        r"(un|des)\s+conseils?|tu\s+me\s+conseilles|comment\s+(je\s+peux|puis\s*-?\s*je|faire\s+pour))\b",
        "es": r"\b(que\s+(debo|deberia|puedo|podria)\s+hacer|(algun|un)\s+consejo|consejos|que\s+me\s+recomiendas|"
        r"como\s+(puedo|hago\s+para))\b",
        "it": r"\b(cosa\s+(devo|dovrei|posso|potrei)\s+fare|che\s+(devo|dovrei)\s+fare|(un|qualche)\s+consiglio|"
        r"consigli|"
        r"come\s+(posso|faccio\s+a))\b",
        "pt": r"\b(o\s+que\s+(eu\s+)?(devo|deveria|posso|poderia)\s+fazer|(algum|um)\s+conselho|conselhos|"
        r"o\s+que\s+voce\s+(sugere|recomenda)|como\s+(eu\s+)?(posso|faco\s+para))\b",
    },
    "thanks": {
        "en": r"^(ok(ay)?\s+)?(thanks?|thank\s+you|thx|cheers|ty)\b",
        "nl": r"^(oke\s+)?(dank\s*je(\s+wel)?|dank\s+u(\s+wel)?|bedankt|merci)\b",
        "de": r"^(ok(ay)?\s+)?(danke(\s+schon|\s+sehr)?|vielen\s+dank)\b",
        "fr": r"^(ok\s+)?(merci(\s+beaucoup)?)\b",
        "es": r"^(vale\s+)?(gracias|muchas\s+gracias)\b",
        "it": r"^(ok\s+)?(grazie(\s+mille)?)\b",
        "pt": r"^(ok\s+)?(obrigad[oa](\s+mesmo)?|valeu)\b",
    },
    "bye": {  # at the end of a short turn: "thanks, bye"
        "en": r"\b(bye|goodbye|see\s+you(\s+later|\s+soon)?|good\s*night|talk\s+(to\s+you\s+)?(later|soon)|"
        r"i\s+have\s+to\s+go)(\s+now)?$",
        "nl": r"\b(doei|dag|tot\s+(ziens|later|straks)|welterusten|ik\s+moet\s+gaan)$",
        "de": r"\b(tschuss|auf\s+wiedersehen|bis\s+(bald|spater|dann)|gute\s+nacht|ich\s+muss\s+los)$",
        "fr": r"\b(au\s+revoir|a\s+(plus|bientot|demain)|bonne\s+nuit|je\s+dois\s+y\s+aller)$",
        "es": r"\b(adios|hasta\s+(luego|pronto|manana)|buenas\s+noches|me\s+tengo\s+que\s+ir)$",
        "it": r"\b(ciao\s+ciao|arrivederci|a\s+(presto|dopo|domani)|buona\s*notte|devo\s+andare)$",
        "pt": r"\b(tchau|ate\s+(logo|mais|amanha)|boa\s+noite|preciso\s+ir)$",
    },
    "hello": {
        "en": r"^(hi|hello|hey|hiya|good\s+(morning|afternoon|evening)|howdy|yo)(\s+(there|again|you|mrrrme))?$",
        "nl": r"^(hoi|hallo|hey|hee|goedemorgen|goedemiddag|goedenavond|dag)(\s+daar)?$",
        "de": r"^(hallo|hi|hey|guten\s+(morgen|tag|abend)|servus|moin)(\s+du)?$",
        "fr": r"^(bonjour|salut|coucou|bonsoir|hello)(\s+toi)?$",
        "es": r"^(hola|buenos\s+dias|buenas(\s+tardes)?|hey)$",
        "it": r"^(ciao|salve|buongiorno|buonasera|ehi)$",
        "pt": r"^(oi|ola|bom\s+dia|boa\s+tarde|e\s+ai)$",
    },
}

_QUESTION_START = {
    "en": r"^(what|why|how|when|where|who|which|is|are|am|do|does|did|can|could|should|would|will|have|has)\b",
    "nl": r"^(wat|waarom|hoe|wanneer|waar|wie|welke?|is|ben|zijn|kan|kun|moet|zou|heb|wil)\b",
    "de": r"^(was|warum|wieso|wie|wann|wo|wer|welche[rs]?|ist|bin|sind|kann|soll|sollte|hast|habe|gibt)\b",
    "fr": r"^(que|quoi|pourquoi|comment|quand|ou|qui|quel(le)?s?|est-ce|est\s+ce)\b",
    "es": r"^(que|por\s+que|como|cuando|donde|quien|cual|es|estoy|puedo|debo|tengo)\b",
    "it": r"^(che|cosa|perche|come|quando|dove|chi|quale|e|sono|posso|devo|ho)\b",
    "pt": r"^(o\s+que|que|por\s+que|como|quando|onde|quem|qual|e|estou|posso|devo|tenho)\b",
}


def normalise(text: str) -> str:
    """Lower case, no accents, apostrophes unified, punctuation as spaces: what the patterns read."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'").replace("‘", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w'\s-]", " ", text).split())


def sentences(text: str) -> list[str]:
    """The person's sentences, markup removed, each with its own closing mark (kept: "?" matters)."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text[:MAX_TEXT])  # what markup hides, too
    text = re.sub(r"<[^>]{0,200}>|\b(https?://|www\.)\S+", " ", text)  # tags and links are not said back
    parts = re.findall(r"[^.!?;\n]+[.!?;]*", text)
    return [" ".join(p.split()) for p in parts if re.search(r"\w", p)]


def is_question(sentence: str, language: str) -> bool:
    if sentence.rstrip().endswith("?") or sentence.lstrip().startswith("¿"):
        return True
    pattern = _QUESTION_START.get(language, _QUESTION_START["en"])
    return re.match(pattern, normalise(sentence)) is not None


SMALL_TALK_WORDS = 8
"""Thanks, hello and bye are small talk only in a short turn: "thanks, but my week was awful" is not."""


def small_talk(text: str, language: str) -> str | None:
    """hello, thanks, bye, how_are_you or advice when the turn is one of those, else None."""
    lang = language if language in _SMALL_TALK["hello"] else "en"
    plain = normalise(text)
    short = len(plain.split()) <= SMALL_TALK_WORDS
    for intent in ("how_are_you", "advice", "bye", "thanks", "hello"):
        if (short or intent in ("how_are_you", "advice")) and re.search(_SMALL_TALK[intent][lang], plain):
            return intent
    return None


# --- English reflection -------------------------------------------------------------------------------

_SWAP = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "we": "you", "us": "you",
    "our": "your", "ours": "yours", "ourselves": "yourselves", "i'm": "you're", "i've": "you've",
    "i'll": "you'll", "i'd": "you'd", "we're": "you're", "we've": "you've", "we'll": "you'll",
    "your": "my", "yours": "mine", "yourself": "myself", "you're": "I'm", "you've": "I've",
    "you'll": "I'll", "you'd": "I'd", "im": "you're", "ive": "you've",
}  # fmt: skip
"""First and second person swapped; "you" itself depends on its place (see `_swap_you`)."""

_AFTER_I = {"am": "are", "was": "were", "'m": "'re"}
"""The verb that followed "I" and must agree with "you"."""

_AFTER_YOU = {"are": "am", "were": "was"}

STOP = frozenset(
    """a an the and or but so if then than that this these those there here it its it's is are was were be
    been being am do does did done doing have has had having i me my mine myself we us our ours you your
    yours yourself he him his she her hers they them their theirs what which who whom whose when where why
    how not no nor very too just really quite also only even still again ever never always often sometimes
    of in on at by for with about against between into through during before after above below to from up
    down out off over under can could should would will shall may might must i'm i've i'll i'd you're
    you've it's that's there's don't doesn't didn't can't couldn't won't wouldn't shouldn't isn't aren't
    wasn't weren't haven't hasn't hadn't im ive dont cant wont get got gets getting go goes went going gone
    make makes made making know knew known think thought want wanted wants need needed needs like liked
    feel feeling feels felt seem seems seemed say said says tell told let lets thing things something
    anything nothing everything stuff lot lots bit kind sort way much many more most some any all every
    each other another same such own now today tonight yesterday tomorrow lately recently yeah yes okay ok
    oh well hey hi hello please thanks thank maybe actually basically literally probably right one ones
    someone somebody anyone anybody everyone everybody nobody people person time times day days week
    keep kept try tried trying come came coming take took taking give gave look looking see saw
    bad good great fine nice awful terrible horrible sad happy angry mad upset tired stressed worried
    scared afraid anxious lonely lost hurt annoyed frustrated excited glad proud sorry okay alright better
    worse best worst hard easy difficult long big small little whole already anymore away back around
    together alone enough almost else though instead yet soon later ago wrong normal weird strange true
    sure able rough tough front top middle side end earlier later lately guess help""".split()
)  # fmt: skip
"""Words that never make a topic: function words, the commonest verbs, and evaluative words (the fused
emotion already speaks to how the person feels; the topic is what they feel it about)."""

_DETERMINERS = {"my", "our", "the", "a", "an", "this", "that", "your", "his", "her", "their"}
_CUT = STOP | {"so", "and", "because", "at", "with", "since", "as", "while"}
_VERBISH = re.compile(
    r"^(is|are|was|were|am|be|been|have|has|had|do|does|did|can|could|will|would|should|shall|may|might|"
    r"must|feel|felt|think|thought|know|knew|want|wanted|need|needed|got|get|lost|hate|love|like|miss|"
    r"missed|keep|kept|made|make|went|go|said|told|can't|cannot|couldn't|don't|didn't|won't|isn't|wasn't|"
    r"keeps|gives|makes|says|tells|wants|needs|feels|seems|looks|takes|gets|goes|talks|thinks|knows|tries|"
    r"ran|came|left|broke|took|gave|fell|saw|met|found|won|bought|sent|spent|paid|began|forgot|hurt|hurts|"
    r"\w{2,}ed|\w+'(s|re|ve|ll|d|m))$"
)
_SUBJECTS = {"i", "i'm", "i've", "i'll", "i'd", "im", "ive", "we", "we're", "we've", "my", "our", "he", "she",
             "they", "it", "it's", "this", "that", "everything", "nothing", "everyone", "nobody", "work",
             "school", "life", "things"}  # fmt: skip
_PEOPLE = {
    "you",
    "they",
    "he",
    "she",
    "nobody",
    "everyone",
    "someone",
    "somebody",
    "everybody",
    "people",
    "who",
    "which",
    "mom",
    "dad",
    "mum",
}
_AUXILIARIES = {"am", "is", "are", "was", "were", "be", "been", "being", "keep", "keeps", "kept", "started"}
_PEOPLE |= {"me", "him", "her", "us", "them"}
"""After these a lone word is most likely a verb ("nobody listens"), never the topic."""
_OPENERS = re.compile(r"^(well|so|and|but|um+|uh+|oh|honestly|actually|yeah|okay|ok|hmm+|like|also)\s*,?\s+", re.I)


def _swap_you(words: list[str], index: int) -> str:
    """ "you" is the subject ("I") before a verb or at the start, the object ("me") elsewhere."""
    nxt = words[index + 1].lower() if index + 1 < len(words) else ""
    if index == 0 or nxt in _AFTER_YOU or _VERBISH.match(nxt):
        return "I"
    return "me"


def swap_person(text: str) -> str:
    """First person to second and back, with the verbs that must agree ("I am" -> "you are")."""
    words = text.split()
    out: list[str] = []
    for i, word in enumerate(words):
        bare = word.lower()
        previous = words[i - 1].lower() if i else ""
        if bare == "you":
            out.append(_swap_you(words, i))
        elif bare in _SWAP:
            out.append(_SWAP[bare])
        elif previous == "i" and bare in _AFTER_I:
            out.append(_AFTER_I[bare])
        elif previous == "you" and out and out[-1] == "I" and bare in _AFTER_YOU:
            out.append(_AFTER_YOU[bare])
        else:
            out.append(word if word == "I" or not word[0].isupper() or i else word.lower())
    return " ".join(out)


def _words(clause: str) -> list[str]:
    """The clause's words, keeping apostrophes and hyphens inside words, nothing else."""
    found = re.findall(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*", clause.replace("’", "'"))
    # Shouting is said back in a normal voice ("I LOST MY JOB" -> "you lost your job"), but "I" stays.
    return [w if w == "I" or not w.isupper() or len(w) == 1 else w.lower() for w in found if len(w) <= MAX_WORD]


def content_words(text: str) -> list[str]:
    """The words that carry what the turn is about: no stop words, no pronouns, at least 3 letters."""
    return [w.lower() for w in _words(text) if w.lower() not in STOP and len(w) >= 3 and not w.isdigit()]


_FUNCTION = frozenset(
    """and or but so if then than that this these those there here it its is are was were be been being am do
    does did have has had i me my we us our you your he him his she her they them their what which who when
    where why how not no of in on at by for with about against between into through during before after to
    from up down out off over under can could should would will shall may might must just too also even still
    again ever never always last next first yesterday today tomorrow tonight week weekend month year morning
    evening night all some any every each because since while as""".split()
)  # fmt: skip
"""Where a noun phrase ends."""
_INTENSIFIERS = {"really", "very", "so", "quite", "pretty", "super", "totally", "such", "kind", "sort"}


def _noun_phrase(words: list[str], start: int) -> list[str]:
    """Up to three words from `start` (an intensifier first is skipped), ending before a function word or
    a verb-like word; only kept when its last word carries meaning ("rough day" does not, "new job" does)."""
    phrase: list[str] = []
    for word in words[start : start + 4]:
        bare = word.lower()
        if not phrase and bare in _INTENSIFIERS:
            continue
        # A verb ends the phrase ("my manager keeps giving"); "-ing" only after its first word ("driving test").
        verb = _VERBISH.match(bare) or (phrase and bare.endswith("ing"))
        if bare in _FUNCTION or bare in _DETERMINERS or bare.endswith("ly") or verb:
            break
        phrase.append(word if start else bare)  # the person's capitals ("New York"), not a sentence's
        if len(phrase) == 3:
            break
    while phrase and (phrase[-1].lower() in STOP or _VERBISH.match(phrase[-1].lower())):
        phrase.pop()  # "a rough day" names nothing; "my dog ran" names the dog
    return phrase if phrase and len(phrase[-1]) >= 3 else []


def topic(text: str) -> str | None:
    """The noun phrase the turn is about, said back ("my keys" -> "your keys", "a job interview" -> "the
    job interview"): first one the person owns ("my ..."), then what it is "about", then any determined
    one, then one after another preposition ("at work", "to New York"), then a lone content word that is not a verb (the
    word after "I" is one)."""
    words = _words(text)
    lowered = [w.lower() for w in words]
    found: list[tuple[int, str]] = []
    for i, word in enumerate(lowered[:-1]):
        phrase = _noun_phrase(words, i + 1)
        if not phrase:
            continue
        if word in ("my", "our"):
            found.append((0, "your " + " ".join(phrase)))
        elif word in ("about", "with", "of", "at", "for", "to", "from", "in") and lowered[i + 1] not in _DETERMINERS:
            found.append((1 if word == "about" else 3, " ".join(phrase)))  # "at work" only when nothing else
        elif word in ("the", "this", "that", "a", "an", "his", "her", "their"):
            det = "the" if word in ("a", "an", "this", "that") else word
            after = i + 1 + len(phrase)  # "the meaning of life": the phrase goes on after "of"
            more = _noun_phrase(words, after + 1) if after < len(words) - 1 and lowered[after] == "of" else []
            found.append((2, " ".join([det, *phrase, *(["of", *more] if more else [])])))
    if found:
        return min(found, key=lambda item: item[0])[1]
    for i, word in enumerate(lowered):
        after_subject = i > 0 and lowered[i - 1] in _SUBJECTS | _PEOPLE | _AUXILIARIES
        if (
            word in STOP
            or word in _FUNCTION
            or len(word) < 4
            or after_subject
            or _VERBISH.match(word)
            or word.endswith("ly")
        ):
            continue
        adjective = word.endswith(("y", "ful", "al", "ous", "ive", "ic"))  # "rainy weather", not "coffee tastes"
        run = (_noun_phrase(words, i) if adjective else None) or [word]
        return " ".join([words[i] if i else word, *run[1:]])
    return None


_HEDGES = re.compile(r"[\s,]+(i\s+guess|i\s+think|i\s+suppose|i\s+mean|you\s+know|or\s+something|lol)\s*$", re.I)
"""A hedge at the end ("I'm okay I guess") said back ("you're okay you guess") would sound like mockery."""


def reflect_clause(sentence: str) -> str | None:
    """The statement said back in the second person, or None when it is too long or not a clause.
    Lower case at the start (the template decides), no closing mark."""
    sentence = _HEDGES.sub("", sentence.strip().rstrip(".!?"))
    clause = re.split(r"[,:;.!?]|\s+-\s+|\bbecause\b|\bbut\b", _OPENERS.sub("", sentence.strip()), maxsplit=1)[0]
    words = _words(clause)
    if not 2 <= len(words) <= MAX_CLAUSE_WORDS:
        return None
    lowered = [w.lower() for w in words]
    has_verb = any(_VERBISH.match(w) for w in lowered[1:])
    if lowered[0] not in _SUBJECTS and not has_verb:
        return None
    if lowered[0] in ("you", "your", "you're") or (lowered[0] in ("it", "this", "that") and not has_verb):
        return None  # about the assistant, or a fragment: said back it would not be about the person
    swapped = swap_person(" ".join(words))
    return swapped[0].lower() + swapped[1:] if not swapped.startswith("I ") else swapped


_ENGLISH_CORE = frozenset(
    """i you my your the and it that this of to with for have has had what how why will would get got things
    thing feel felt think know just really we they she he can can't not don't i'm it's i've be are am were been
    but or at very about want like because when there their our much many some any every all people who
    should could did does do""".split()
)  # fmt: skip
"""Common English words that are not also common words of the other reply languages ("is", "was", "me",
"a", "in", "so", "die" are)."""


_FOREIGN = frozenset(
    """ik het een niet en van mijn ben heb maar wat zijn voor ook nog gaat goed vandaag ich und nicht ist das
    der mein meine bin habe aber auch noch sehr heute gut sonst mir mich wie geht soll je et pas est le la les
    mon ma mes suis une des du mais tres ca ai tu moi yo el los las es estoy mi pero muy hoy una por que con
    esta tengo io il non sono mio mia molto oggi che per ho sto eu nao voce meu minha estou muito hoje mas
    com tenho para""".split()
)  # fmt: skip
"""Common words of the six other reply languages (accents removed) that are not English words."""


def looks_english(text: str) -> bool:
    """Whether English rules may touch the words. A German sentence typed while the replies are English,
    said back through English rules, would come out as a mix of both: the commonest words decide."""
    words = normalise(text).split()
    core = sum(w in _ENGLISH_CORE for w in words)
    foreign = sum(w in _FOREIGN for w in words)
    return core >= foreign if core else foreign == 0


PEOPLE_NOUNS = frozenset(
    """girlfriend boyfriend wife husband partner ex mom mum mother dad father parents sister brother sibling
    siblings son daughter kids children child baby family grandmother grandfather grandma grandpa aunt uncle
    cousin friend friends boss manager colleague colleagues coworker coworkers roommate neighbour neighbor
    teacher teachers doctor therapist team classmates fiance fiancee""".split()
)  # fmt: skip


def is_person(phrase: str | None) -> bool:
    """Whether a topic is someone ("your sister"): a suggestion about a person is not a task to schedule."""
    if not phrase or not phrase.startswith("your "):  # the person's own: "the new boyfriend" is not theirs
        return False
    return phrase.split()[-1].lower() in PEOPLE_NOUNS


@dataclass(frozen=True)
class Heard:
    """What the composer works with."""

    intent: str
    """statement, question, hello, thanks, bye, how_are_you, advice, and in English also should,
    request_nice, request_about, joke, opinion, about_you, memory, normal, allowed, reassure, better."""
    clause: str | None = None
    """The first statement said back ("you lost your keys"), English only."""
    topic: str | None = None
    """A noun phrase said back ("your keys"), English only."""
    subject: str | None = None
    """What a request or an opinion question is about, said back ("the weather"), English only."""
    asked: str | None = None
    """An English wh-question said back as an indirect one ("why you always feel tired")."""
    keywords: list[str] = field(default_factory=list)


_EN_REQUESTS: list[tuple[str, str]] = [
    # (intent, pattern on the normalised turn); the named group "s" is the subject.
    (
        "about_you",
        r"\b(who|what)\s+are\s+you\b|\bare\s+you\s+(a\s+)?(real|human|person|robot|bot|ai|machine|"
        r"computer|alive)\b|\bwhat'?s\s+your\s+name\b|\btell\s+me\s+about\s+yourself\b|"
        r"\bdo\s+you\s+(have|feel|get)\s+(feelings|emotions|lonely|tired|sad|happy)\b|\bcan\s+you\s+feel\b",
    ),
    ("memory", r"\bdo\s+you\s+(still\s+)?(remember|know\s+what\s+i\s+said)\b|\bwhat\s+did\s+i\s+(say|tell\s+you)\b"),
    ("joke", r"\b(tell|know|got)\s+(me\s+)?(a|any|another)\s+(joke|funny\s+story|pun)\b|\bmake\s+me\s+laugh\b"),
    (
        "request_nice",
        r"\b(tell|say|give)\s+me\s+(something|anything|some\s*thing|a\s+thing|one\s+thing)\s+"
        r"(nice|good|positive|kind|lovely|happy|cheerful|beautiful|interesting|fun|cool|uplifting)"
        r"(\s+(about|on|regarding)\s+(?P<s>.+))?$",
    ),
    (
        "request_about",
        r"\b(tell|teach)\s+me\s+(a\s+(bit|little)\s+|more\s+|something\s+)?about\s+(?P<s>.+)$|"
        r"\b(can|could|would)\s+you\s+(talk|tell\s+me)\s+about\s+(?P<s2>.+)$",
    ),
    (
        "opinion",
        r"\bwhat\s+do\s+you\s+think\s+(about|of)\s+(?P<s>.+)$|\bdo\s+you\s+(like|love|enjoy)\s+(?P<s2>.+)$|"
        r"\bwhat'?s\s+your\s+(opinion|view|take)\s+(on|about)\s+(?P<s3>.+)$",
    ),
    ("should", r"^(do\s+you\s+think\s+)?(should|shall)\s+(i|we)\s+(?P<s>.+)$"),
    (
        "normal",  # about a feeling: "is it normal to feel like this", "is it weird that I miss him"
        r"\b(is\s+(it|this|that)|it\s+is)\s+(normal|okay|ok|alright|weird|strange|bad|wrong)\s+"
        r"(to\s+(feel|be|cry|want|miss|hate|love|think|still)|that|if\s+i\s+(feel|still|miss|cry|hate|am|'m))\b|"
        r"\bis\s+something\s+wrong\s+with\s+me\b|\b(normal|okay)\s+to\s+feel\b",
    ),
    (
        "allowed",  # about doing something: "is it okay to take a day off"
        r"\bis\s+it\s+(okay|ok|alright|fine|bad|wrong|selfish)\s+(if\s+i|to)\s+(?P<s>.+)$",
    ),
    (
        "reassure",
        r"^(am\s+i|do\s+you\s+think\s+i'?m)\s+(overreacting|crazy|weird|stupid|a\s+bad|too|being|wrong|"
        r"normal|broken|selfish|a\s+failure|dramatic)",
    ),
    (
        "better",
        r"\b(will|does|is)\s+(it|this|things|everything|life)\s+(ever\s+)?(get|going\s+to\s+get|gets?)\s+"
        r"(better|easier)\b",
    ),
]

_INVERSION = re.compile(
    r"^(?P<wh>why|how|what|when|where)\s+(?P<aux>do|can|could|should|would|will|am|are|is|was|have|don't|can't|"
    r"didn't|doesn't|won't|isn't|aren't|wasn't)\s+"
    r"(?P<subj>i|we|you|it|my\s+\w+|the\s+\w+)\s+(?P<rest>.+)$"
)


def _indirect(question: str) -> str | None:
    """ "why do I always feel tired" -> "why you always feel tired": only where word order rules are safe
    (not after "does" or "did": the verb after them would have to change)."""
    words = _words(question)
    if not 3 <= len(words) <= MAX_CLAUSE_WORDS:
        return None
    m = _INVERSION.match(" ".join(w.lower() for w in words))
    if m is None or (m["subj"].startswith(("my ", "the ")) and m["aux"] in ("do", "have", "am", "are")):
        return None
    if " " in m["subj"] and m["rest"].split()[0] in ("of", "in", "on", "at", "for", "with", "from", "to", "about"):
        return None  # "what is the meaning of life": the subject goes on past the one word matched
    subj = swap_person(m["subj"])
    aux = "" if m["aux"] == "do" else m["aux"]
    if subj == "you" and aux in ("am", "was"):
        aux = {"am": "are", "was": "were"}[aux]
    if subj == "I" and aux in ("are", "were"):
        aux = {"are": "am", "were": "was"}[aux]
    rest = swap_person(" ".join(words[2 + len(m["subj"].split()) :]))  # the person's own capitals
    return " ".join(part for part in (m["wh"], subj, aux, rest) if part)


def _subject(match: re.Match[str]) -> str | None:
    raw = next((match[g] for g in ("s", "s2", "s3") if g in match.groupdict() and match[g]), None)
    if not raw:
        return None
    words = _words(raw)[:6]
    while words and words[-1].lower() in ("please", "today", "now", "then", "again", "too"):
        words.pop()
    if not words:
        return None
    return swap_person(" ".join(w.lower() for w in words)).replace("you you", "you")


def _to_the_assistant(sentence: str) -> bool:
    """ "you're a good listener" is about the assistant: its words are no topic of the person's."""
    first = normalise(sentence).split()[:1]
    return bool(first) and first[0] in ("you", "you're", "youre", "your", "u")


def listen(text: str, language: str) -> Heard:
    """The composer's reading of one turn."""
    lang = language[:2].lower()
    said = sentences(text)
    whole = " ".join(said)  # markup gone, long text cut
    intent = small_talk(whole, lang) if len(whole) <= 200 else None
    questions = [s for s in said if is_question(s, lang)]
    statements = [s for s in said if s not in questions]
    if lang != "en" or not looks_english(whole):
        return Heard(intent=intent or ("question" if questions and not statements else "statement"))
    plain = [normalise(s) for s in said]
    clause = next((c for c in map(reflect_clause, statements) if c), None)
    keywords = content_words(whole)
    own = [s for s in said if not _to_the_assistant(s)]
    about = next((t for t in map(topic, [s for s in statements if s in own]) if t), None)
    about = about or (topic(" ".join(own)) if own else None)
    if intent in (None, "advice"):
        for name, pattern in _EN_REQUESTS:
            match = next((m for m in (re.search(pattern, p) for p in plain) if m), None)
            if match is not None:
                return Heard(name, clause, about, _subject(match), None, keywords)
    if intent is not None:
        return Heard(intent, clause, about, None, None, keywords)
    if questions:
        asked = next((a for a in map(_indirect, questions) if a), None)
        return Heard("question", clause, about or topic(questions[0]), None, asked, keywords)
    return Heard("statement", clause, about, None, None, keywords)
