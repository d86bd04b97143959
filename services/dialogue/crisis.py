"""Crisis language, detected before any model sees the turn, answered with a vetted safe reply.

Patterns (lower-cased, apostrophes normalised) in five groups: explicit suicidal intent, passive
ideation, method-seeking, self-harm, and harm to others; English in full, and the core of the first,
second and fourth groups in each other reply language of the web client (nl, de, fr, es, it, pt), where
hyperbole ("ça va me tuer": this will kill me; "ik ga dood van de honger": I'm dying of hunger) is
left out by asking for first-person intent and not "dying of" something. Only a counter is logged, never the words.
The reply follows safe-messaging practice: acknowledge, do not lecture, point to people who can help
now, keep the conversation open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERNS: dict[str, list[str]] = {
    "explicit": [
        r"\b(kill|killing|end|ending|take|taking)\s+(myself|my\s+(own\s+)?life)\b",
        r"\bsuicid(e|al)\b",
        r"\b(want|going|plan(ning)?|ready)\s+to\s+die\b",
        r"\bi\s*('m| am)\s+going\s+to\s+(do\s+it|end\s+it)\b",
        # The other reply languages of the web client: suicide named, or first-person intent to die.
        r"\bzelfmoord|\bmezelf\s+(van\s+kant\s+maken|doden|ombrengen)\b|\b(wil|ga)\s+dood\b(?!\s+van\b)",
        r"\bselbstmord|\bsuizid|\bmich\s+(umbringen|töten)\b|\b(will|möchte)\s+(sterben|nicht\s+mehr\s+leben)\b",
        r"\bsuic[ií]d|\b(veux|vais|voudrais|envie\s+de)\s+(me\s+tuer|mourir(?!\s+d)|en\s+finir)\b",
        r"\b(mettre\s+fin\s+à\s+(ma\s+vie|mes\s+jours))",
        r"\b(quiero|voy\s+a|pienso\s+en)\s+(matarme|morir(me)?(?!\s+de\b)|quitarme\s+la\s+vida)\b",
        r"\bacabar\s+con\s+mi\s+vida\b",
        r"\b(voglio|vorrei|penso\s+di)\s+(uccidermi|ammazzarmi|morire|togliermi\s+la\s+vita|farla\s+finita)\b",
        r"\b(quero|vou|penso\s+em)\s+(me\s+matar|morrer(?!\s+de\b)|tirar\s+a\s+minha\s+(própria\s+)?vida)\b",
        r"\bacabar\s+com\s+a\s+minha\s+vida\b",
    ],
    "passive": [
        r"\b(wish|want)\s+(i\s+(was|were)\s+)?(dead|not\s+alive|gone|never\s+born)\b",
        r"\b(no|don'?t\s+see\s+(a|any))\s+(reason|point)\s+(to|in)\s+(live|living|go(ing)?\s+on)\b",
        r"\bbetter\s+off\s+(dead|without\s+me)\b",
        r"\bcan'?t\s+go\s+on\b",
        r"\bdon'?t\s+want\s+to\s+(be\s+alive|live|wake\s+up)\b",
        r"\b(dat\s+ik\s+dood\s+was|geen\s+reden\s+(meer\s+)?om\s+te\s+leven)\b",
        r"\b(wäre\s+lieber\s+tot|kein(en)?\s+sinn\s+mehr\s+(zu\s+leben|im\s+leben))\b",
        r"\b((plus|aucune)\s+raison\s+de\s+vivre|voudrais\s+être\s+mort)",
        r"\b((ninguna|no\s+tengo)\s+razón\s+para\s+vivir|ojalá\s+estuviera\s+muert)",
        r"\b(nessun\s+motivo\s+per\s+vivere|vorrei\s+essere\s+mort)",
        r"\b((nenhuma|não\s+tenho)\s+razão\s+para\s+viver|queria\s+estar\s+mort)",
    ],
    "method": [
        r"\bhow\s+(many|much)\s+\w+\s+(would\s+it\s+take\s+)?to\s+(die|overdose|kill)\b",
        r"\b(lethal|fatal)\s+(dose|amount)\b",
        r"\b(best|easiest|painless)\s+way\s+to\s+(die|kill\s+myself|end\s+it)\b",
    ],
    "self_harm": [
        r"\b(cut|cutting|hurt|hurting|harm|harming|burn|burning)\s+myself\b",
        r"\bself[-\s]?harm\b",
        r"\bmezelf\s+(snijden|pijn\s+doen|verwonden)\b|\bzelfbeschadiging",
        r"\b(mich|mir)\s+(ritzen|selbst\s+verletzen)\b|\britze\s+mich\b|\bselbstverletzung",
        r"\bme\s+(scarifier|mutiler|faire\s+du\s+mal)\b|\bautomutilation",
        r"\b(hacerme\s+daño|cortarme|autolesion|autolesión)",
        r"\b(farmi\s+del\s+male|tagliarmi)\b|\bautolesion",
        r"\bme\s+(cortar|machucar|ferir)\b|\bautomutila|\bautolesão",
    ],
    "harm_others": [
        r"\b(kill|hurt|shoot|stab)\s+(him|her|them|someone|somebody|my\s+\w+)\b",
    ],
}
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
    normalised = text.lower().replace("’", "'")
    for group, patterns in COMPILED.items():
        if any(pattern.search(normalised) for pattern in patterns):
            return group
    return None


def safe_reply(group: str, language: str = "en") -> list[str]:
    """The vetted reply in the preferred language (English when there is none), as sentences, so it
    streams and is spoken like any other."""
    reply = SAFE_REPLIES.get(language[:2].lower(), SAFE_REPLIES["en"])
    first = reply.harm_others if group == "harm_others" else reply.pain
    return [first, reply.person, reply.resources, reply.danger, reply.stay]
