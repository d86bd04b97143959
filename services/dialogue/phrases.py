"""The lite composer's phrasings, one book per reply language the web client offers.

Each book has the same parts (see `composer.py`). The wording is informal (du, je, tu, tú, você), the
register of a counsellor talking with one person, and avoids grammatical gender where the language
allows it (the person's gender is unknown). Portuguese is Brazilian. A language with no book here is
answered from the English one (the LLM backends answer in any language).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phrasebook:
    acknowledge: dict[str, list[str]]
    """By fused emotion: Happy, Sad, Angry, Neutral."""
    masking: dict[str, list[str]]
    """By the modality the smile is at odds with: text (the words) or voice."""
    reflect: list[str]
    """Each with a {quote} of the person's words, in the language's quotation marks."""
    therapist: list[str]
    """The therapist's questions about a feeling that is hard (or not yet clear)."""
    savour: list[str]
    """The therapist's questions about a good feeling: what made it, what to keep of it."""
    coach: list[str]
    greeting: dict[str, list[str]]
    """By personality: therapist, coach."""
    welcome_back: dict[str, list[str]]


ENGLISH = Phrasebook(
    acknowledge={
        "Happy": ["It sounds like things feel good right now.", "I can hear some lightness in how you say that.",
                  "That sounds genuinely good."],
        "Sad": ["That sounds really heavy.", "I can hear how hard this is for you.",
                "It sounds like you're carrying a lot."],
        "Angry": ["It sounds like this really frustrated you.", "I can hear how much that annoyed you.",
                  "That sounds genuinely unfair to you."],
        "Neutral": ["Thank you for telling me.", "I'm listening.", "Okay, I follow you."],
    },
    masking={
        "text": ["You're smiling, but your words sound heavier than your face.",
             "Your face looks cheerful, yet what you say sounds hard."],
        "voice": ["You're smiling, but your voice sounds heavier than your face.",
                  "Your face looks cheerful, yet your voice sounds strained."],
    },
    reflect=["You said: “{quote}”.", "So, “{quote}”.", "I hear you saying: “{quote}”."],
    therapist=["What do you think is underneath that feeling?", "How long have you been feeling this way?",
               "What would help you feel a bit safer with it?", "What part of it weighs on you most?"],
    savour=["What do you think made this feel so good?", "What would you like to hold on to from this?",
            "How does it feel to notice that?"],
    coach=["What is one small step you could take today?", "What would a good next move look like?",
           "Let's pick one thing you can change this week.",
           "What has worked for you before in a moment like this?"],
    greeting={
        "therapist": ["Hello, I'm glad you're here. How are you feeling today?",
                      "Hi there. Take your time: what's on your mind today?"],
        "coach": ["Hi! Good to see you. What would you like to work on today?",
                  "Hello! What's one thing you'd like to move forward today?"],
    },
    welcome_back={
        "therapist": ["Welcome back, it's good to see you again. How have you been since we last talked?",
                      "Hello again. How are things with you since last time?"],
        "coach": ["Welcome back! How did things go since our last session?",
                  "Good to see you again! What has moved since last time?"],
    },
)  # fmt: skip

DUTCH = Phrasebook(
    acknowledge={
        "Happy": ["Het klinkt alsof het nu goed met je gaat.", "Ik hoor iets lichts in hoe je dat zegt.",
                  "Dat klinkt echt fijn."],
        "Sad": ["Dat klinkt echt zwaar.", "Ik hoor hoe moeilijk dit voor je is.",
                "Het klinkt alsof je veel met je meedraagt."],
        "Angry": ["Het klinkt alsof dit je echt gefrustreerd heeft.", "Ik hoor hoeveel dat je heeft geërgerd.",
                  "Dat klinkt echt oneerlijk tegenover jou."],
        "Neutral": ["Dank je dat je het me vertelt.", "Ik luister.", "Oké, ik volg je."],
    },
    masking={
        "text": ["Je glimlacht, maar je woorden klinken zwaarder dan je gezicht.",
             "Je gezicht ziet er vrolijk uit, maar wat je zegt klinkt moeilijk."],
        "voice": ["Je glimlacht, maar je stem klinkt zwaarder dan je gezicht.",
                  "Je gezicht ziet er vrolijk uit, maar je stem klinkt gespannen."],
    },
    reflect=["Je zei: ‘{quote}’.", "Dus: ‘{quote}’.", "Ik hoor je zeggen: ‘{quote}’."],
    therapist=["Wat denk je dat er onder dat gevoel zit?", "Hoe lang voel je je al zo?",
               "Wat zou je helpen om je er iets veiliger bij te voelen?", "Welk deel ervan weegt het zwaarst voor je?"],
    savour=["Wat denk je dat dit zo goed liet voelen?", "Wat zou je hiervan willen vasthouden?",
            "Hoe voelt het om dat op te merken?"],
    coach=["Wat is één kleine stap die je vandaag kunt zetten?", "Hoe zou een goede volgende stap eruitzien?",
           "Laten we één ding kiezen dat je deze week kunt veranderen.",
           "Wat heeft je eerder geholpen in een moment als dit?"],
    greeting={
        "therapist": ["Hallo, fijn dat je er bent. Hoe voel je je vandaag?",
                      "Hoi. Neem rustig de tijd: wat houdt je vandaag bezig?"],
        "coach": ["Hoi! Goed je te zien. Waar wil je vandaag aan werken?",
                  "Hallo! Wat is één ding dat je vandaag verder wilt brengen?"],
    },
    welcome_back={
        "therapist": ["Welkom terug, fijn je weer te zien. Hoe is het met je gegaan sinds ons laatste gesprek?",
                      "Fijn dat je er weer bent. Hoe gaat het met je sinds de vorige keer?"],
        "coach": ["Welkom terug! Hoe is het gegaan sinds onze laatste sessie?",
                  "Goed je weer te zien! Wat is er in beweging gekomen sinds de vorige keer?"],
    },
)  # fmt: skip

GERMAN = Phrasebook(
    acknowledge={
        "Happy": ["Es klingt, als ginge es dir gerade gut.", "Ich höre etwas Leichtes darin, wie du das sagst.",
                  "Das klingt wirklich gut."],
        "Sad": ["Das klingt wirklich schwer.", "Ich höre, wie schwer das für dich ist.",
                "Es klingt, als würdest du gerade viel tragen."],
        "Angry": ["Es klingt, als hätte dich das richtig frustriert.", "Ich höre, wie sehr dich das geärgert hat.",
                  "Das klingt wirklich unfair dir gegenüber."],
        "Neutral": ["Danke, dass du mir das erzählst.", "Ich höre dir zu.", "Okay, ich verstehe."],
    },
    masking={
        "text": ["Du lächelst, aber deine Worte klingen schwerer als dein Gesicht.",
             "Dein Gesicht wirkt fröhlich, doch was du sagst, klingt schwer."],
        "voice": ["Du lächelst, aber deine Stimme klingt schwerer als dein Gesicht.",
                  "Dein Gesicht wirkt fröhlich, doch deine Stimme klingt angespannt."],
    },
    reflect=["Du hast gesagt: „{quote}“.", "Also: „{quote}“.", "Ich höre dich sagen: „{quote}“."],
    therapist=["Was, glaubst du, liegt hinter diesem Gefühl?", "Wie lange fühlst du dich schon so?",
               "Was würde dir helfen, dich damit etwas sicherer zu fühlen?",
               "Welcher Teil davon belastet dich am meisten?"],
    savour=["Was, glaubst du, hat dazu beigetragen, dass es sich so gut anfühlt?",
            "Was davon möchtest du festhalten?", "Wie fühlt es sich an, das zu bemerken?"],
    coach=["Was ist ein kleiner Schritt, den du heute gehen könntest?", "Wie sähe ein guter nächster Schritt aus?",
           "Lass uns eine Sache wählen, die du diese Woche ändern kannst.",
           "Was hat dir früher in so einem Moment geholfen?"],
    greeting={
        "therapist": ["Hallo, schön, dass du da bist. Wie fühlst du dich heute?",
                      "Hallo. Nimm dir Zeit: Was beschäftigt dich heute?"],
        "coach": ["Hallo! Schön, dich zu sehen. Woran möchtest du heute arbeiten?",
                  "Hallo! Was möchtest du heute ein Stück voranbringen?"],
    },
    welcome_back={
        "therapist": ["Willkommen zurück, schön, dich wiederzusehen. Wie ist es dir seit unserem letzten Gespräch "
                      "ergangen?", "Schön, dass du wieder da bist. Wie geht es dir seit dem letzten Mal?"],
        "coach": ["Willkommen zurück! Wie ist es seit unserer letzten Sitzung gelaufen?",
                  "Schön, dich wiederzusehen! Was hat sich seit dem letzten Mal bewegt?"],
    },
)  # fmt: skip

FRENCH = Phrasebook(
    acknowledge={
        "Happy": ["On dirait que les choses vont bien pour toi en ce moment.",
                  "J'entends une certaine légèreté dans ta façon de le dire.", "Ça a l'air vraiment bien."],
        "Sad": ["Ça a l'air vraiment lourd.", "J'entends à quel point c'est difficile pour toi.",
                "On dirait que tu portes beaucoup de choses."],
        "Angry": ["On dirait que cela a été vraiment frustrant pour toi.",
                  "J'entends à quel point ça te met en colère.", "Ça semble vraiment injuste envers toi."],
        "Neutral": ["Merci de me le dire.", "Je t'écoute.", "D'accord, je te suis."],
    },
    masking={
        "text": ["Tu souris, mais tes mots semblent plus lourds que ton visage.",
             "Ton visage a l'air joyeux, pourtant ce que tu dis semble difficile."],
        "voice": ["Tu souris, mais ta voix semble plus lourde que ton visage.",
                  "Ton visage a l'air joyeux, pourtant ta voix semble tendue."],
    },
    reflect=["Tu as dit : « {quote} ».", "Donc : « {quote} ».", "Je t'entends dire : « {quote} »."],
    therapist=["Qu'est-ce qui se cache, selon toi, derrière ce sentiment ?",
               "Depuis combien de temps te sens-tu ainsi ?",
               "Qu'est-ce qui t'aiderait à te sentir un peu plus en sécurité face à ça ?",
               "Quelle partie de tout cela te pèse le plus ?"],
    savour=["Qu'est-ce qui, selon toi, rend ce moment si agréable ?", "Qu'aimerais-tu garder de tout ça ?",
            "Qu'est-ce que ça te fait de le remarquer ?"],
    coach=["Quel petit pas pourrais-tu faire aujourd'hui ?", "À quoi ressemblerait une bonne prochaine étape ?",
           "Choisissons une chose que tu peux changer cette semaine.",
           "Qu'est-ce qui t'a été utile avant, dans un moment comme celui-ci ?"],
    greeting={
        "therapist": ["Bonjour, ça me fait plaisir que tu sois là. Comment te sens-tu aujourd'hui ?",
                      "Salut. Prends ton temps : qu'est-ce qui te préoccupe aujourd'hui ?"],
        "coach": ["Salut ! Ça fait plaisir de te voir. Sur quoi aimerais-tu travailler aujourd'hui ?",
                  "Bonjour ! Quelle chose aimerais-tu faire avancer aujourd'hui ?"],
    },
    welcome_back={
        "therapist": ["Bon retour, ça me fait plaisir de te revoir. Comment vas-tu depuis notre dernière "
                      "conversation ?", "Re-bonjour. Comment ça va depuis la dernière fois ?"],
        "coach": ["Bon retour ! Comment ça s'est passé depuis notre dernière séance ?",
                  "Ça fait plaisir de te revoir ! Qu'est-ce qui a avancé depuis la dernière fois ?"],
    },
)  # fmt: skip

SPANISH = Phrasebook(
    acknowledge={
        "Happy": ["Parece que las cosas van bien ahora mismo.", "Noto cierta ligereza en cómo lo dices.",
                  "Eso suena realmente bien."],
        "Sad": ["Eso suena muy duro.", "Noto lo difícil que es esto para ti.", "Parece que llevas mucho encima."],
        "Angry": ["Parece que esto te frustró de verdad.", "Noto cuánto te molestó eso.",
                  "Eso suena realmente injusto contigo."],
        "Neutral": ["Gracias por contármelo.", "Te escucho.", "De acuerdo, te sigo."],
    },
    masking={
        "text": ["Estás sonriendo, pero tus palabras suenan más pesadas que tu cara.",
             "Tu cara parece alegre, pero lo que dices suena difícil."],
        "voice": ["Estás sonriendo, pero tu voz suena más pesada que tu cara.",
                  "Tu cara parece alegre, pero tu voz suena tensa."],
    },
    reflect=["Dijiste: «{quote}».", "Entonces: «{quote}».", "Te escucho decir: «{quote}»."],
    therapist=["¿Qué crees que hay debajo de ese sentimiento?", "¿Desde cuándo te sientes así?",
               "¿Qué te ayudaría a llevarlo con un poco más de calma?", "¿Qué parte de todo esto te pesa más?"],
    savour=["¿Qué crees que hizo que esto se sintiera tan bien?", "¿Qué te gustaría conservar de esto?",
            "¿Cómo te sienta darte cuenta de eso?"],
    coach=["¿Cuál es un pequeño paso que podrías dar hoy?", "¿Cómo sería un buen siguiente paso?",
           "Elijamos una cosa que puedas cambiar esta semana.",
           "¿Qué te ha funcionado antes en un momento como este?"],
    greeting={
        "therapist": ["Hola, me alegra que estés aquí. ¿Cómo te sientes hoy?",
                      "Hola. Tómate tu tiempo: ¿de qué te gustaría hablar hoy?"],
        "coach": ["¡Hola! Me alegra verte. ¿En qué te gustaría trabajar hoy?",
                  "¡Hola! ¿Qué te gustaría sacar adelante hoy?"],
    },
    welcome_back={
        "therapist": ["Qué bueno verte de nuevo. ¿Cómo has estado desde nuestra última conversación?",
                      "Hola otra vez. ¿Cómo van las cosas desde la última vez?"],
        "coach": ["¡Qué bien tenerte de vuelta! ¿Cómo fueron las cosas desde nuestra última sesión?",
                  "¡Me alegra verte otra vez! ¿Qué ha avanzado desde la última vez?"],
    },
)  # fmt: skip

ITALIAN = Phrasebook(
    acknowledge={
        "Happy": ["Sembra che le cose vadano bene in questo momento.",
                  "Sento una certa leggerezza nel modo in cui lo dici.", "Sembra davvero una bella cosa."],
        "Sad": ["Sembra davvero pesante.", "Sento quanto sia difficile per te.",
                "Sembra che tu stia portando molto sulle spalle."],
        "Angry": ["Sembra che questo sia stato davvero frustrante per te.", "Sento quanto ti abbia dato fastidio.",
                  "Sembra davvero ingiusto nei tuoi confronti."],
        "Neutral": ["Grazie di avermelo detto.", "Ti ascolto.", "D'accordo, ti seguo."],
    },
    masking={
        "text": ["Stai sorridendo, ma le tue parole sembrano più pesanti del tuo viso.",
             "Il tuo viso sembra allegro, eppure quello che dici sembra difficile."],
        "voice": ["Stai sorridendo, ma la tua voce sembra più pesante del tuo viso.",
                  "Il tuo viso sembra allegro, eppure la tua voce sembra tesa."],
    },
    reflect=["Hai detto: «{quote}».", "Quindi: «{quote}».", "Mi stai dicendo: «{quote}»."],
    therapist=["Cosa pensi ci sia sotto questa sensazione?", "Da quanto tempo ti senti così?",
               "Cosa ti aiuterebbe a sentirti un po' più al sicuro?", "Quale parte ti pesa di più?"],
    savour=["Cosa pensi che abbia reso questo momento così bello?", "Cosa vorresti conservare di tutto questo?",
            "Come ti fa sentire accorgertene?"],
    coach=["Qual è un piccolo passo che potresti fare oggi?", "Come sarebbe un buon prossimo passo?",
           "Scegliamo una cosa che puoi cambiare questa settimana.",
           "Cosa ti ha aiutato in passato in un momento come questo?"],
    greeting={
        "therapist": ["Ciao, sono felice che tu sia qui. Come ti senti oggi?",
                      "Ciao. Prenditi il tuo tempo: di cosa ti va di parlare oggi?"],
        "coach": ["Ciao! Che bello vederti. Su cosa vorresti lavorare oggi?",
                  "Ciao! Qual è una cosa che vorresti far avanzare oggi?"],
    },
    welcome_back={
        "therapist": ["Che bello rivederti. Come stai dalla nostra ultima conversazione?",
                      "Ciao di nuovo. Come vanno le cose dall'ultima volta?"],
        "coach": ["Che bello riaverti qui! Com'è andata dalla nostra ultima sessione?",
                  "Felice di rivederti! Cosa è cambiato dall'ultima volta?"],
    },
)  # fmt: skip

PORTUGUESE = Phrasebook(
    acknowledge={
        "Happy": ["Parece que as coisas estão boas agora.", "Sinto uma certa leveza no jeito como você diz isso.",
                  "Que bom ouvir isso."],
        "Sad": ["Isso parece muito pesado.", "Percebo o quanto isso está difícil para você.",
                "Parece que você está carregando muita coisa."],
        "Angry": ["Parece que isso te frustrou de verdade.", "Percebo o quanto isso te incomodou.",
                  "Isso parece realmente injusto com você."],
        "Neutral": ["Agradeço por você me contar.", "Estou ouvindo.", "Certo, estou acompanhando."],
    },
    masking={
        "text": ["Você está sorrindo, mas suas palavras soam mais pesadas que seu rosto.",
             "Seu rosto parece alegre, mas o que você diz soa difícil."],
        "voice": ["Você está sorrindo, mas sua voz soa mais pesada que seu rosto.",
                  "Seu rosto parece alegre, mas sua voz soa tensa."],
    },
    reflect=["Você disse: “{quote}”.", "Então: “{quote}”.", "Ouvi você dizer: “{quote}”."],
    therapist=["O que você acha que está por trás desse sentimento?", "Há quanto tempo você se sente assim?",
               "O que ajudaria você a lidar com isso com um pouco mais de segurança?",
               "Que parte disso pesa mais para você?"],
    savour=["O que você acha que fez isso ser tão bom?", "O que você gostaria de guardar disso?",
            "Como é para você perceber isso?"],
    coach=["Qual é um pequeno passo que você poderia dar hoje?", "Como seria um bom próximo passo?",
           "Vamos escolher uma coisa que você pode mudar esta semana.",
           "O que já funcionou para você em um momento como este?"],
    greeting={
        "therapist": ["Olá, que bom que você está aqui. Como você está se sentindo hoje?",
                      "Oi. Sem pressa: o que está na sua cabeça hoje?"],
        "coach": ["Oi! Que bom te ver. No que você gostaria de trabalhar hoje?",
                  "Olá! Qual é uma coisa que você gostaria de fazer avançar hoje?"],
    },
    welcome_back={
        "therapist": ["Que bom ver você de novo. Como você tem estado desde a nossa última conversa?",
                      "Olá de novo. Como estão as coisas desde a última vez?"],
        "coach": ["Que bom ter você de volta! Como foram as coisas desde a nossa última sessão?",
                  "Bom te ver de novo! O que avançou desde a última vez?"],
    },
)  # fmt: skip

BOOKS = {"en": ENGLISH, "nl": DUTCH, "de": GERMAN, "fr": FRENCH, "es": SPANISH, "it": ITALIAN, "pt": PORTUGUESE}


def book(language: str) -> Phrasebook:
    """The book for a preference such as "de" or "pt-BR"; English when there is none."""
    return BOOKS.get(language[:2].lower(), ENGLISH)
