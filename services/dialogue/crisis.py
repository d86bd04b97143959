"""Crisis language, detected before any model sees the turn, answered with a vetted safe reply.

Patterns in five groups: explicit suicidal intent, passive ideation, method-seeking, self-harm, and harm
to others; English in full, and the first, second and fourth groups in each other reply language of the
web client (nl, de, fr, es, it, pt). Text and patterns are compared lower-cased, without accents (so
"nao tenho razao" typed without them, or text in decomposed Unicode, matches too), with apostrophes
and spaces normalised. Everyday hyperbole is kept out by asking for first-person intent, for the
phrase to end its clause ("I can't go on" but not "I can't go on the trip"), and not "dying of"
something ("je vais mourir de rire", "ik ga dood van de honger", "mi ammazzo di lavoro"); someone else
hurting the person ("il veut me faire du mal") is not self-harm. Only a counter is logged, never the
words. The reply follows safe-messaging practice: acknowledge, do not lecture, point to people who can
help now, keep the conversation open.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

END = r"\s*($|[.,!?;:]|like\s+this|anymore|any\s+more)"
"""The phrase ends its clause (or goes on with "like this" / "anymore")."""

PATTERNS: dict[str, list[str]] = {
    "explicit": [
        r"\b(kill|killing|end|ending|take|taking)\s+(myself|my\s+(own\s+)?life)\b",
        r"\bsuicid|\bzelfmoord|\bzelfdoding|\bselbstmord|\bsuizid|\bfreitod|\blebensmude\b",
        r"\b(want|going|plan(ning)?|ready)\s+to\s+die\b(?!\s+(of|from|for|laughing)\b)",
        r"\bi\s*('m| am)\s+going\s+to\s+(do\s+it|end\s+it)\b|\bend\s+it\s+all\b",
        # nl
        r"\bmezelf\s+(van\s+kant\s+maken|doden|ombrengen|iets\s+aandoen)\b|\bmaak\s+mezelf\s+van\s+kant\b",
        r"\bwil\s+dood\b(?!\s+van\b)|\bwil\s+niet\s+meer\s+leven\b",
        # de
        r"\bich\s+(will|mochte|werde)\s+mich\s+(umbringen|toten)\b|\bbringe\s+mich\s+um\b",
        r"\b(will|mochte)\s+(sterben|nicht\s+mehr\s+leben|tot\s+sein)\b",
        # fr
        r"\b(veux|voudrais|envie\s+de)\s+(me\s+tuer|mourir(?!\s+d)|en\s+finir(?!\s+avec\b)|crever(?!\s+d))",
        r"\bvais\s+me\s+tuer\b|\bmettre\s+fin\s+a\s+(ma\s+vie|mes\s+jours)\b|\bne\s+veux\s+plus\s+vivre\b",
        # es
        r"\b(quiero|voy\s+a|pienso\s+en)\s+(matarme|morir(me)?(?!\s+de\b)|quitarme\s+la\s+vida)\b",
        r"\bme\s+(voy\s+a|quiero)\s+(matar|morir)\b(?!\s+de\b)|\bacabar\s+con\s+mi\s+vida\b",
        r"\bno\s+quiero\s+vivir" + r"\s*($|[.,!?;:]|mas\b|asi\b)",
        # it
        r"\b(voglio|vorrei|penso\s+di)\s+(uccidermi|ammazzarmi|morire(?!\s+d)|togliermi\s+la\s+vita"
        r"|farla\s+finita(?!\s+con\b))",
        r"\bmi\s+(voglio|vorrei)\s+(uccidere|ammazzare)\b|\bmi\s+ammazzo\b(?!\s+d)|\bnon\s+voglio\s+piu\s+vivere\b",
        # pt
        r"\b(quero|vou|penso\s+em)\s+(me\s+matar|morrer(?!\s+de\b)|tirar\s+a\s+minha\s+(propria\s+)?vida)\b",
        r"\bqueria\s+morrer\b(?!\s+de\b)|\bacabar\s+com\s+a\s+minha\s+vida\b|\bnao\s+quero\s+mais\s+viver\b",
    ],
    "passive": [
        r"\b(wish|want)\s+(i\s+(was|were)\s+)?(dead|not\s+alive|gone|never\s+born)\b",
        r"\bwish\s+i\s+(had|'d)\s+never\s+been\s+born\b",
        r"\b(no|don'?t\s+see\s+(a|any))\s+(reason|point)\s+(to|in)\s+(live|living|go(ing)?\s+on)\b",
        r"\bbetter\s+off\s+(dead|without\s+me)\b",
        r"\bcan'?t\s+go\s+on" + END,
        r"\bdon'?t\s+want\s+to\s+be\s+alive\b|\bdon'?t\s+want\s+to\s+(live|wake\s+up)" + END,
        r"\bdat\s+ik\s+dood\s+was\b|\bgeen\s+reden\s+(meer\s+)?om\s+te\s+leven\b",
        r"\bware\s+lieber\s+tot\b|\bkein(en)?\s+sinn\s+mehr\s+(zu\s+leben|im\s+leben)\b",
        r"\b(will|mochte)\s+nicht\s+mehr\s+aufwachen\b",
        r"\b(plus|aucune|pas)\s+(de\s+)?raison\s+de\s+vivre\b|\bvoudrais\s+etre\s+mort",
        r"\b(ninguna|no\s+tengo)\s+razon(es)?\s+para\s+vivir\b|\bojala\s+estuviera\s+muert",
        r"\bnessun\s+motivo\s+per\s+vivere\b|\bvorrei\s+essere\s+mort",
        r"\b(nenhuma|nao\s+tenho)\s+(razao|motivo)\s+para\s+viver\b|\bqueria\s+estar\s+mort|\bquero\s+sumir\b",
    ],
    "method": [
        r"\bhow\s+(many|much)\s+\w+\s+(would\s+it\s+take\s+)?to\s+(die|overdose|kill)\b",
        r"\b(lethal|fatal)\s+(dose|amount)\b",
        r"\b(best|easiest|painless)\s+way\s+to\s+(die|kill\s+myself|end\s+it)\b",
    ],
    "self_harm": [
        r"\b(cut|cutting|hurt|hurting|harm|harming|burn|burning)\s+myself\b",
        r"\bself[-\s]?harm\b",
        r"\bmezelf\s+(snijden|pijn\s+doen|verwonden)\b|\b(snijd|verwond)\s+mezelf\b|\bdoe\s+mezelf\s+pijn\b",
        r"\bzelfbeschadiging",
        r"\b(mich|mir)\s+(ritzen|selbst\s+verletzen)\b|\britze\s+mich\b|\bverletze\s+mich\s+selbst\b",
        r"\bselbstverletzung",
        r"\bme\s+(scarifier|scarifie|mutiler|mutile)\b|\bje\s+me\s+fais\s+du\s+mal\b|\bautomutilation",
        r"\bje\s+(veux|vais|voudrais)\s+me\s+faire\s+du\s+mal\b|\bje\s+me\s+coupe\b(?!\s+(les|la|le|un|une)\b)",
        r"\bcortarme\b(?!\s+(el|la|las|los|un|una)\b)|\bme\s+corto\b(?!\s+(el|la|las|los|un|una)\b)",
        r"\b(quiero|voy\s+a|vuelvo\s+a)\s+hacerme\s+dano\b|\bme\s+hago\s+dano\b|\bautolesion",
        r"\b(voglio|vado\s+a)\s+farmi\s+del\s+male\b|\bmi\s+faccio\s+del\s+male\b",
        r"\b(tagliarmi|mi\s+taglio)\b(?!\s+(i|il|le|lo|la|gli|un|una)\b)",
        r"\b(quero|vou)\s+me\s+(cortar|machucar|ferir)\b|\beu\s+me\s+(corto|machuco|firo)\b(?!\s+(o|a|os|as)\b)",
        r"\bautomutila|\bautolesao",
    ],
    "harm_others": [
        r"(?<!n't )(?<!not )\b(want|going|gonna|plan(ning)?|ready)\s+to\s+(kill|hurt|shoot|stab)\s+"
        r"(him|her|them|someone|somebody|people|my\s+\w+)\b",
        r"\bi\s*('ll| will)\s+(kill|shoot|stab)\s+(him|her|them|someone|somebody|you)\b",
    ],
}


def _plain(text: str) -> str:
    """Lower case, no accents, one kind of apostrophe, single spaces: how text and patterns meet."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


COMPILED = {group: [re.compile(p) for p in patterns] for group, patterns in PATTERNS.items()}


@dataclass(frozen=True)
class SafeReply:
    """The vetted reply in one language: its sentences around the resources of the places that speak it."""

    pain: str
    """First sentence for a person in pain."""
    harm_others: str
    """First sentence when someone else is in danger."""
    person: str
    resources: str
    danger: str
    stay: str


SAFE_REPLIES = {
    "en": SafeReply(
        pain="I'm really sorry you're feeling this much pain, and I'm glad you told me.",
        harm_others="I'm really glad you told me, and I'm worried about the safety of the people around you.",
        person="You deserve support from a person right now, not only from an AI.",
        resources="If you are in the US you can call or text 988; in the UK or Ireland call Samaritans on 116 123; "
        "across the EU, 112 reaches emergency services.",
        danger="If you are in immediate danger, please call your local emergency number.",
        stay="I'm here to keep talking with you while you reach out.",
    ),
    "nl": SafeReply(
        pain="Het spijt me echt dat je zoveel pijn voelt, en ik ben blij dat je het me vertelt.",
        harm_others="Ik ben echt blij dat je het me vertelt, en ik maak me zorgen om de veiligheid van de mensen "
        "om je heen.",
        person="Je verdient nu steun van een mens, niet alleen van een AI.",
        resources="In Nederland kun je 113 Zelfmoordpreventie bellen op 113 of gratis op 0800-0113; in België "
        "de Zelfmoordlijn op 1813.",
        danger="Ben je in direct gevaar, bel dan 112 of je lokale alarmnummer.",
        stay="Ik blijf met je praten terwijl je hulp zoekt.",
    ),
    "de": SafeReply(
        pain="Es tut mir wirklich leid, dass du so viel Schmerz fühlst, und ich bin froh, dass du es mir erzählst.",
        harm_others="Ich bin wirklich froh, dass du es mir erzählst, und ich mache mir Sorgen um die Sicherheit der "
        "Menschen um dich herum.",
        person="Du verdienst jetzt Unterstützung von einem Menschen, nicht nur von einer KI.",
        resources="In Deutschland erreichst du die TelefonSeelsorge rund um die Uhr kostenlos unter 0800 111 0 111 "
        "oder 0800 111 0 222; in Österreich unter 142, in der Schweiz die Dargebotene Hand unter 143.",
        danger="Wenn du in akuter Gefahr bist, ruf bitte 112 oder deinen örtlichen Notruf an.",
        stay="Ich bin hier und rede weiter mit dir, während du dir Hilfe holst.",
    ),
    "fr": SafeReply(
        pain="Ça me peine vraiment que tu ressentes autant de douleur, et merci de me l'avoir dit.",
        harm_others="Merci de me l'avoir dit, et je m'inquiète pour la sécurité des personnes autour de toi.",
        person="Tu mérites le soutien d'une personne maintenant, pas seulement d'une IA.",
        resources="En France, le 3114 répond jour et nuit, gratuitement ; en Belgique, le Centre de Prévention du "
        "Suicide au 0800 32 123 ; en Suisse, La Main Tendue au 143.",
        danger="Si tu es en danger immédiat, appelle le 112 ou le numéro d'urgence local.",
        stay="Je reste là pour continuer à parler avec toi pendant que tu cherches de l'aide.",
    ),
    "es": SafeReply(
        pain="Siento mucho que estés sintiendo tanto dolor, y me alegra que me lo hayas contado.",
        harm_others="Me alegra que me lo hayas contado, y me preocupa la seguridad de las personas a tu alrededor.",
        person="Mereces el apoyo de una persona ahora mismo, no solo de una IA.",
        resources="En España puedes llamar al 024, la línea de atención a la conducta suicida, gratis y a "
        "cualquier hora.",
        danger="Si estás en peligro inmediato, llama al 112 o al número de emergencias de tu país.",
        stay="Sigo aquí para hablar contigo mientras buscas ayuda.",
    ),
    "it": SafeReply(
        pain="Mi dispiace davvero che tu stia provando così tanto dolore, e grazie per avermelo detto.",
        harm_others="Grazie per avermelo detto, e mi preoccupa la sicurezza delle persone intorno a te.",
        person="Meriti il sostegno di una persona adesso, non solo di un'IA.",
        resources="In Italia puoi chiamare Telefono Amico al 02 2327 2327 o Samaritans Onlus al 06 77208977.",
        danger="Se sei in pericolo immediato, chiama il 112.",
        stay="Sono qui e continuo a parlare con te mentre cerchi aiuto.",
    ),
    "pt": SafeReply(
        pain="Sinto muito que você esteja sentindo tanta dor, e fico feliz que tenha me contado.",
        harm_others="Fico feliz que você tenha me contado, e me preocupo com a segurança das pessoas ao seu redor.",
        person="Você merece o apoio de uma pessoa agora, não só de uma IA.",
        resources="No Brasil, o CVV atende gratuitamente pelo 188, a qualquer hora; em Portugal, a SOS Voz Amiga "
        "pelo 213 544 545 ou o SNS 24 pelo 808 24 24 24.",
        danger="Se você estiver em perigo imediato, ligue 192 no Brasil ou 112 em Portugal.",
        stay="Estou aqui para continuar conversando com você enquanto busca ajuda.",
    ),
}
"""Reviewed for the numbers' currency in 2026; a deployment serving other places adds its own."""


def detect(text: str) -> str | None:
    """The crisis group the text falls into, or None. Every language's patterns are checked whatever the
    preferences say: people write in the language they are in."""
    plain = _plain(text)
    for group, patterns in COMPILED.items():
        if any(pattern.search(plain) for pattern in patterns):
            return group
    return None


def safe_reply(group: str, language: str = "en") -> list[str]:
    """The vetted reply in the preferred language (English when there is none), as sentences, so it
    streams and is spoken like any other."""
    reply = SAFE_REPLIES.get(language[:2].lower(), SAFE_REPLIES["en"])
    first = reply.harm_others if group == "harm_others" else reply.pain
    return [first, reply.person, reply.resources, reply.danger, reply.stay]
