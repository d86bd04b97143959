"""The lite composer's phrasings, one book per reply language the web client offers.

Each book has the same parts (see `composer.py`). The wording is informal (du, je, tu, tú, você), the
register of a counsellor talking with one person, and avoids grammatical gender where the language
allows it (the person's gender is unknown), the assistant's own included (its voice may be either).
Portuguese is Brazilian. A language with no book here is answered from the English one (the LLM
backends answer in any language). English replies also say the person's words back (`english.py`);
the other books quote them word for word instead.
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
    # What the composer says to small talk and questions (`listening.py` tells them apart); by
    # personality where the therapist and the coach would say it differently.
    hello: dict[str, list[str]]
    """To a hello in the middle of a conversation (the session's greeting is `greeting`)."""
    how_are_you: dict[str, list[str]]
    """The answer to "how are you?": the assistant answers, briefly, before turning back to the person."""
    ask_back: dict[str, list[str]]
    advice: dict[str, list[str]]
    """Suggestions for "what should I do?": the therapist's gentle and exploratory, the coach's concrete."""
    check_in: dict[str, list[str]]
    """After a suggestion: does it fit?"""
    question: list[str]
    """An honest answer to a question the rules cannot answer: no guessing."""
    thanks: list[str]
    bye: list[str]
    open_door: dict[str, list[str]]
    """The detailed style's third sentence after small talk."""


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
    hello={
        "therapist": [
            "Hi, it's good to hear from you.",
            "Hello again, I'm right here.",
            "Hi, I'm glad you're here.",
        ],
        "coach": [
            "Hey, good to hear from you!",
            "Hi! Ready when you are.",
            "Hello, great to have you here!",
        ],
    },
    how_are_you={
        "therapist": [
            "I'm doing well, thank you for asking.",
            "I'm well, and glad to be talking with you.",
            "Thanks for asking: I'm good, and I'm here for you.",
        ],
        "coach": [
            "I'm great, thanks, and ready to work with you!",
            "Doing well, thanks for asking!",
            "I'm good, thanks: full of energy for our session.",
        ],
    },
    ask_back={
        "therapist": [
            "How are you doing yourself?",
            "And how are you, really?",
            "What about you: how has your day been?",
        ],
        "coach": [
            "How about you: what's your energy like today?",
            "And you? What's on your plate today?",
            "How are things on your side?",
        ],
    },
    advice={
        "therapist": [
            "One thing that might help is to slow down and name the part that worries you most.",
            "It might help to write down what's going on, then choose one small thing to look after first.",
            "A gentle first step could be to talk it through with someone you trust.",
            "Maybe start by asking yourself what you need most right now: rest, support, or a plan.",
        ],
        "coach": [
            "Here's a suggestion: pick the smallest next step and do it today.",
            "Try this: write down three options, then choose the one you can start tomorrow.",
            "My suggestion: give it twenty focused minutes now, then see how it looks.",
            "Start with one concrete action you can finish this week, and put it in your calendar.",
        ],
    },
    check_in={
        "therapist": [
            "How does that sound to you?",
            "What feels most doable to you?",
            "Does any of that fit what you need?",
        ],
        "coach": [
            "Which of those could you start on today?",
            "What might get in the way, and how could you plan for it?",
            "How does that sound as a first step?",
        ],
    },
    question=[
        "That's a good question, and I don't want to guess at an answer.",
        "I can't answer that for certain, but we can think it through together.",
        "That's worth asking, even if I can't give you a sure answer.",
    ],
    thanks=[
        "You're welcome.",
        "Any time, I'm glad it helped.",
        "You're very welcome.",
    ],
    bye=[
        "Take care of yourself; I'm here whenever you want to talk again.",
        "Goodbye for now, and be kind to yourself.",
        "Talk soon; it was good to hear from you.",
    ],
    open_door={
        "therapist": [
            "There's no rush; we can talk about whatever is on your mind.",
            "Whatever you'd like to share, I'm listening.",
            "We can go wherever the conversation takes us.",
        ],
        "coach": [
            "We can work on anything you like today.",
            "Bring me whatever you want to move forward.",
            "Let's make the most of our time together.",
        ],
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
    hello={
        "therapist": [
            "Hoi, fijn om van je te horen.",
            "Hallo, ik ben er.",
            "Hoi, fijn dat je er bent.",
        ],
        "coach": [
            "Hé, goed om van je te horen!",
            "Hoi! Ik ben er klaar voor.",
            "Hallo, leuk dat je er bent!",
        ],
    },
    how_are_you={
        "therapist": [
            "Met mij gaat het goed, dank je dat je het vraagt.",
            "Goed, en ik ben blij dat we praten.",
            "Dank je: het gaat goed, en ik ben er voor jou.",
        ],
        "coach": [
            "Prima, dank je, en klaar om met je aan de slag te gaan!",
            "Goed, bedankt voor het vragen!",
            "Goed, dank je: vol energie voor ons gesprek.",
        ],
    },
    ask_back={
        "therapist": [
            "En hoe gaat het met jou?",
            "En hoe is het echt met je?",
            "En jij: hoe was je dag?",
        ],
        "coach": [
            "En jij: hoeveel energie heb je vandaag?",
            "En jij? Wat staat er vandaag op je lijst?",
            "Hoe gaat het aan jouw kant?",
        ],
    },
    advice={
        "therapist": [
            "Het kan helpen om even te vertragen en het deel te benoemen dat je het meest zorgen baart.",
            "Het kan helpen om op te schrijven wat er speelt en dan één klein ding te kiezen om eerst aan te pakken.",
            "Een zachte eerste stap kan zijn om erover te praten met iemand die je vertrouwt.",
            "Misschien kun je beginnen met jezelf af te vragen wat je nu het meest nodig hebt: rust, steun of een "
            "plan.",
        ],
        "coach": [
            "Een voorstel: kies de kleinste volgende stap en zet die vandaag.",
            "Probeer dit: schrijf drie opties op en kies de optie waarmee je morgen kunt beginnen.",
            "Mijn suggestie: geef het nu twintig geconcentreerde minuten en kijk dan hoe het ervoor staat.",
            "Begin met één concrete actie die je deze week kunt afronden, en zet die in je agenda.",
        ],
    },
    check_in={
        "therapist": [
            "Hoe klinkt dat voor je?",
            "Wat voelt voor jou het meest haalbaar?",
            "Past iets daarvan bij wat je nodig hebt?",
        ],
        "coach": [
            "Waarmee zou je vandaag kunnen beginnen?",
            "Wat zou je in de weg kunnen zitten, en hoe kun je daarop plannen?",
            "Hoe klinkt dat als eerste stap?",
        ],
    },
    question=[
        "Dat is een goede vraag, en ik wil niet naar een antwoord gissen.",
        "Ik kan dat niet zeker beantwoorden, maar we kunnen er samen over nadenken.",
        "Dat is het vragen waard, ook als ik je geen zeker antwoord kan geven.",
    ],
    thanks=[
        "Graag gedaan.",
        "Altijd, fijn dat het hielp.",
        "Heel graag gedaan.",
    ],
    bye=[
        "Zorg goed voor jezelf; ik ben er wanneer je weer wilt praten.",
        "Tot ziens, en wees lief voor jezelf.",
        "Tot snel; fijn dat je er was.",
    ],
    open_door={
        "therapist": [
            "Er is geen haast; we kunnen praten over wat je bezighoudt.",
            "Wat je ook wilt delen, ik luister.",
            "We kunnen gaan waar het gesprek ons brengt.",
        ],
        "coach": [
            "We kunnen vandaag aan alles werken wat je wilt.",
            "Breng gerust alles in wat je verder wilt brengen.",
            "Laten we het beste uit onze tijd samen halen.",
        ],
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
    hello={
        "therapist": [
            "Hallo, schön, von dir zu hören.",
            "Hallo, ich bin da.",
            "Hallo, schön, dass du da bist.",
        ],
        "coach": [
            "Hey, schön, von dir zu hören!",
            "Hallo! Ich bin bereit, wenn du es bist.",
            "Hallo, toll, dass du da bist!",
        ],
    },
    how_are_you={
        "therapist": [
            "Mir geht es gut, danke der Nachfrage.",
            "Gut, und ich freue mich, mit dir zu sprechen.",
            "Danke: Mir geht es gut, und ich bin für dich da.",
        ],
        "coach": [
            "Bestens, danke, und bereit, mit dir zu arbeiten!",
            "Gut, danke der Nachfrage!",
            "Gut, danke: voller Energie für unser Gespräch.",
        ],
    },
    ask_back={
        "therapist": [
            "Und wie geht es dir selbst?",
            "Und wie geht es dir wirklich?",
            "Und du: Wie war dein Tag?",
        ],
        "coach": [
            "Und du: Wie viel Energie hast du heute?",
            "Und du? Was steht heute bei dir an?",
            "Wie sieht es bei dir aus?",
        ],
    },
    advice={
        "therapist": [
            "Es könnte helfen, kurz langsamer zu werden und den Teil zu benennen, der dich am meisten beunruhigt.",
            "Es könnte helfen, aufzuschreiben, was los ist, und dann eine kleine Sache zu wählen, um die du dich "
            "zuerst kümmerst.",
            "Ein behutsamer erster Schritt könnte sein, mit einem Menschen darüber zu sprechen, dem du vertraust.",
            "Vielleicht fängst du damit an, dich zu fragen, was du gerade am meisten brauchst: Ruhe, Unterstützung "
            "oder einen Plan.",
        ],
        "coach": [
            "Ein Vorschlag: Wähle den kleinsten nächsten Schritt und geh ihn heute.",
            "Probier das: Schreib drei Möglichkeiten auf und wähle die, mit der du morgen anfangen kannst.",
            "Mein Vorschlag: Gib dem Ganzen jetzt zwanzig konzentrierte Minuten und schau dann, wie es aussieht.",
            "Fang mit einer konkreten Handlung an, die du diese Woche abschließen kannst, und trag sie in deinen "
            "Kalender ein.",
        ],
    },
    check_in={
        "therapist": [
            "Wie klingt das für dich?",
            "Was fühlt sich für dich am machbarsten an?",
            "Passt etwas davon zu dem, was du brauchst?",
        ],
        "coach": [
            "Womit könntest du heute anfangen?",
            "Was könnte dir im Weg stehen, und wie kannst du dafür planen?",
            "Wie klingt das als erster Schritt?",
        ],
    },
    question=[
        "Das ist eine gute Frage, und ich möchte keine Antwort raten.",
        "Das kann ich nicht sicher beantworten, aber wir können gemeinsam darüber nachdenken.",
        "Die Frage lohnt sich, auch wenn ich dir keine sichere Antwort geben kann.",
    ],
    thanks=[
        "Gern geschehen.",
        "Jederzeit, schön, dass es geholfen hat.",
        "Sehr gern.",
    ],
    bye=[
        "Pass gut auf dich auf; ich bin da, wann immer du wieder reden möchtest.",
        "Bis bald, und sei gut zu dir.",
        "Bis dann; schön, dass du da warst.",
    ],
    open_door={
        "therapist": [
            "Es gibt keine Eile; wir können über alles sprechen, was dich beschäftigt.",
            "Was auch immer du teilen möchtest, ich höre zu.",
            "Wir können dahin gehen, wohin das Gespräch uns führt.",
        ],
        "coach": [
            "Wir können heute an allem arbeiten, was du möchtest.",
            "Bring mit, was du voranbringen willst.",
            "Lass uns das Beste aus unserer Zeit machen.",
        ],
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
    hello={
        "therapist": [
            "Salut, ça me fait plaisir d'avoir de tes nouvelles.",
            "Bonjour, je suis là.",
            "Salut, quel plaisir que tu sois là.",
        ],
        "coach": [
            "Salut, ravi d'avoir de tes nouvelles !",
            "Salut ! On commence quand tu veux.",
            "Bonjour, super que tu sois là !",
        ],
    },
    how_are_you={
        "therapist": [
            "Je vais bien, merci de demander.",
            "Je vais bien, et ça me fait plaisir de parler avec toi.",
            "Merci : je vais bien, et je suis là pour toi.",
        ],
        "coach": [
            "Très bien, merci, et j'ai hâte de travailler avec toi !",
            "Bien, merci de demander !",
            "Bien, merci : plein d'énergie pour notre séance.",
        ],
    },
    ask_back={
        "therapist": [
            "Et toi, comment vas-tu ?",
            "Et toi, comment ça va vraiment ?",
            "Et toi : comment s'est passée ta journée ?",
        ],
        "coach": [
            "Et toi : quelle est ton énergie aujourd'hui ?",
            "Et toi ? Qu'est-ce qui t'attend aujourd'hui ?",
            "Comment ça se passe de ton côté ?",
        ],
    },
    advice={
        "therapist": [
            "Ça pourrait aider de ralentir un peu et de nommer ce qui t'inquiète le plus.",
            "Ça pourrait aider d'écrire ce qui se passe, puis de choisir une petite chose à prendre en main d'abord.",
            "Un premier pas en douceur pourrait être d'en parler avec une personne de confiance.",
            "Tu pourrais commencer par te demander ce dont tu as le plus besoin maintenant : du repos, du soutien ou "
            "un plan.",
        ],
        "coach": [
            "Une suggestion : choisis le plus petit pas suivant et fais-le aujourd'hui.",
            "Essaie ceci : note trois options, puis choisis celle que tu peux commencer demain.",
            "Ma suggestion : accorde-y vingt minutes de concentration maintenant, puis regarde où tu en es.",
            "Commence par une action concrète que tu peux terminer cette semaine, et note-la dans ton agenda.",
        ],
    },
    check_in={
        "therapist": [
            "Qu'est-ce que tu en penses ?",
            "Qu'est-ce qui te semble le plus faisable ?",
            "Est-ce que quelque chose là-dedans correspond à ce dont tu as besoin ?",
        ],
        "coach": [
            "Par quoi pourrais-tu commencer aujourd'hui ?",
            "Qu'est-ce qui pourrait te freiner, et comment t'y préparer ?",
            "Ça te va comme premier pas ?",
        ],
    },
    question=[
        "C'est une bonne question, et je ne veux pas deviner une réponse.",
        "Je ne peux pas y répondre avec certitude, mais on peut y réfléchir ensemble.",
        "Ça vaut la peine de se poser la question, même si je ne peux pas te donner de réponse sûre.",
    ],
    thanks=[
        "Avec plaisir.",
        "Quand tu veux, ça me fait plaisir si ça t'aide.",
        "De rien, vraiment.",
    ],
    bye=[
        "Prends soin de toi ; je suis là quand tu veux reparler.",
        "À bientôt, et ménage-toi.",
        "À plus tard ; ça m'a fait plaisir de te parler.",
    ],
    open_door={
        "therapist": [
            "Rien ne presse ; on peut parler de tout ce qui te préoccupe.",
            "Quoi que tu veuilles partager, je t'écoute.",
            "On peut aller là où la conversation nous mène.",
        ],
        "coach": [
            "On peut travailler sur tout ce que tu veux aujourd'hui.",
            "Apporte-moi ce que tu veux faire avancer.",
            "Profitons au mieux de notre temps ensemble.",
        ],
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
    hello={
        "therapist": [
            "Hola, me alegra saber de ti.",
            "Hola, aquí estoy.",
            "Hola, me alegra que estés aquí.",
        ],
        "coach": [
            "¡Hola, qué bueno saber de ti!",
            "¡Hola! Empezamos cuando quieras.",
            "¡Hola, qué bien tenerte aquí!",
        ],
    },
    how_are_you={
        "therapist": [
            "Estoy bien, gracias por preguntar.",
            "Bien, y me alegra hablar contigo.",
            "Gracias: estoy bien, y estoy aquí para ti.",
        ],
        "coach": [
            "¡Genial, gracias, y con ganas de trabajar contigo!",
            "¡Bien, gracias por preguntar!",
            "Bien, gracias: con mucha energía para nuestra sesión.",
        ],
    },
    ask_back={
        "therapist": [
            "¿Y tú cómo estás?",
            "¿Y cómo estás de verdad?",
            "¿Y tú: qué tal tu día?",
        ],
        "coach": [
            "¿Y tú: cómo andas de energía hoy?",
            "¿Y tú? ¿Qué tienes hoy por delante?",
            "¿Cómo van las cosas por tu lado?",
        ],
    },
    advice={
        "therapist": [
            "Puede ayudar ir más despacio y nombrar la parte que más te preocupa.",
            "Puede ayudar escribir lo que está pasando y elegir una cosa pequeña de la que ocuparte primero.",
            "Un primer paso suave podría ser hablarlo con alguien de confianza.",
            "Quizá puedas empezar preguntándote qué necesitas más ahora: descanso, apoyo o un plan.",
        ],
        "coach": [
            "Una sugerencia: elige el siguiente paso más pequeño y dalo hoy.",
            "Prueba esto: escribe tres opciones y elige la que puedas empezar mañana.",
            "Mi sugerencia: dedícale ahora veinte minutos de concentración y luego mira cómo va.",
            "Empieza con una acción concreta que puedas terminar esta semana, y ponla en tu agenda.",
        ],
    },
    check_in={
        "therapist": [
            "¿Qué te parece?",
            "¿Qué te parece más factible?",
            "¿Algo de eso encaja con lo que necesitas?",
        ],
        "coach": [
            "¿Con cuál podrías empezar hoy?",
            "¿Qué podría interponerse, y cómo podrías prepararte?",
            "¿Qué te parece como primer paso?",
        ],
    },
    question=[
        "Es una buena pregunta, y no quiero adivinar una respuesta.",
        "No puedo responder eso con certeza, pero podemos pensarlo juntos.",
        "Vale la pena preguntarlo, aunque no pueda darte una respuesta segura.",
    ],
    thanks=[
        "De nada.",
        "Cuando quieras, me alegra que te ayude.",
        "No hay de qué.",
    ],
    bye=[
        "Cuídate; aquí estoy cuando quieras volver a hablar.",
        "Hasta pronto, y trátate con cariño.",
        "Hasta luego; me alegró hablar contigo.",
    ],
    open_door={
        "therapist": [
            "No hay prisa; podemos hablar de lo que tengas en mente.",
            "Lo que quieras compartir, te escucho.",
            "Podemos ir a donde nos lleve la conversación.",
        ],
        "coach": [
            "Hoy podemos trabajar en lo que quieras.",
            "Trae lo que quieras sacar adelante.",
            "Aprovechemos bien nuestro tiempo juntos.",
        ],
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
    hello={
        "therapist": [
            "Ciao, che piacere sentirti.",
            "Ciao, sono qui.",
            "Ciao, che bello che tu sia qui.",
        ],
        "coach": [
            "Ehi, che bello sentirti!",
            "Ciao! Quando vuoi, si comincia.",
            "Ciao, che bello averti qui!",
        ],
    },
    how_are_you={
        "therapist": [
            "Sto bene, grazie di avermelo chiesto.",
            "Bene, e mi fa piacere parlare con te.",
            "Grazie: sto bene, e sono qui per te.",
        ],
        "coach": [
            "Benissimo, grazie, e con tanta voglia di lavorare con te!",
            "Bene, grazie per la domanda!",
            "Bene, grazie: con tanta energia per la nostra sessione.",
        ],
    },
    ask_back={
        "therapist": [
            "E tu come stai?",
            "E come stai davvero?",
            "E tu: com'è andata la giornata?",
        ],
        "coach": [
            "E tu: quanta energia hai oggi?",
            "E tu? Cosa ti aspetta oggi?",
            "Come vanno le cose dalla tua parte?",
        ],
    },
    advice={
        "therapist": [
            "Potrebbe aiutare rallentare un po' e dare un nome alla parte che ti preoccupa di più.",
            "Potrebbe aiutare scrivere cosa sta succedendo e scegliere una piccola cosa di cui occuparti per prima.",
            "Un primo passo gentile potrebbe essere parlarne con una persona di cui ti fidi.",
            "Forse puoi iniziare chiedendoti di cosa hai più bisogno adesso: riposo, sostegno o un piano.",
        ],
        "coach": [
            "Un suggerimento: scegli il prossimo passo più piccolo e fallo oggi.",
            "Prova così: scrivi tre opzioni e scegli quella che puoi iniziare domani.",
            "Il mio suggerimento: dedicaci adesso venti minuti di concentrazione, poi guarda com'è la situazione.",
            "Inizia con un'azione concreta che puoi finire questa settimana, e annotala in agenda.",
        ],
    },
    check_in={
        "therapist": [
            "Come ti suona?",
            "Cosa ti sembra più fattibile?",
            "C'è qualcosa che corrisponde a ciò di cui hai bisogno?",
        ],
        "coach": [
            "Da quale potresti iniziare oggi?",
            "Cosa potrebbe ostacolarti, e come puoi prepararti?",
            "Ti va bene come primo passo?",
        ],
    },
    question=[
        "È una bella domanda, e non voglio tirare a indovinare una risposta.",
        "Non posso rispondere con certezza, ma possiamo pensarci insieme.",
        "Vale la pena chiederselo, anche se non posso darti una risposta sicura.",
    ],
    thanks=[
        "Prego.",
        "Quando vuoi, mi fa piacere che ti sia utile.",
        "Figurati.",
    ],
    bye=[
        "Abbi cura di te; sono qui quando vuoi parlare di nuovo.",
        "A presto, e sii gentile con te.",
        "Alla prossima; mi ha fatto piacere sentirti.",
    ],
    open_door={
        "therapist": [
            "Non c'è fretta; possiamo parlare di qualsiasi cosa tu abbia in mente.",
            "Qualunque cosa tu voglia condividere, ti ascolto.",
            "Possiamo andare dove ci porta la conversazione.",
        ],
        "coach": [
            "Oggi possiamo lavorare su quello che vuoi.",
            "Portami quello che vuoi far avanzare.",
            "Sfruttiamo al meglio il nostro tempo insieme.",
        ],
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
    hello={
        "therapist": [
            "Oi, que bom ter notícias suas.",
            "Olá, estou aqui.",
            "Oi, que bom que você está aqui.",
        ],
        "coach": [
            "Ei, que bom falar com você!",
            "Oi! Começamos quando você quiser.",
            "Olá, que ótimo ter você aqui!",
        ],
    },
    how_are_you={
        "therapist": [
            "Estou bem, valeu por perguntar.",
            "Bem, e feliz de conversar com você.",
            "Agradeço: estou bem, e estou aqui para você.",
        ],
        "coach": [
            "Ótimo, agradeço, e com vontade de trabalhar com você!",
            "Tudo bem, agradeço a pergunta!",
            "Bem, valeu: com muita energia para a nossa sessão.",
        ],
    },
    ask_back={
        "therapist": [
            "E você, como está?",
            "E como você está de verdade?",
            "E você: como foi o seu dia?",
        ],
        "coach": [
            "E você: como está a sua energia hoje?",
            "E você? O que tem pela frente hoje?",
            "Como estão as coisas do seu lado?",
        ],
    },
    advice={
        "therapist": [
            "Pode ajudar ir mais devagar e dar nome à parte que mais preocupa você.",
            "Pode ajudar escrever o que está acontecendo e escolher uma coisa pequena para cuidar primeiro.",
            "Um primeiro passo tranquilo pode ser conversar sobre isso com alguém de confiança.",
            "Talvez você possa começar se perguntando do que mais precisa agora: descanso, apoio ou um plano.",
        ],
        "coach": [
            "Uma sugestão: escolha o menor próximo passo e dê esse passo hoje.",
            "Experimente isto: anote três opções e escolha a que você pode começar amanhã.",
            "Minha sugestão: dedique agora vinte minutos de foco e depois veja como está.",
            "Comece com uma ação concreta que você possa terminar esta semana, e coloque na sua agenda.",
        ],
    },
    check_in={
        "therapist": [
            "O que você acha disso?",
            "O que parece mais possível para você?",
            "Algo disso combina com o que você precisa?",
        ],
        "coach": [
            "Com qual delas você poderia começar hoje?",
            "O que poderia atrapalhar, e como você pode se preparar?",
            "Que tal isso como primeiro passo?",
        ],
    },
    question=[
        "É uma boa pergunta, e não quero chutar uma resposta.",
        "Não consigo responder isso com certeza, mas podemos pensar juntos.",
        "Vale a pena perguntar, mesmo que eu não possa dar uma resposta certa.",
    ],
    thanks=[
        "De nada.",
        "Quando quiser, fico feliz que ajudou.",
        "Por nada.",
    ],
    bye=[
        "Cuide-se; estou aqui sempre que quiser conversar de novo.",
        "Até logo, e seja gentil com você.",
        "Até mais; foi bom conversar com você.",
    ],
    open_door={
        "therapist": [
            "Sem pressa; podemos falar sobre o que estiver na sua cabeça.",
            "O que você quiser compartilhar, estou ouvindo.",
            "Podemos ir aonde a conversa nos levar.",
        ],
        "coach": [
            "Hoje podemos trabalhar no que você quiser.",
            "Traga o que você quer fazer avançar.",
            "Vamos aproveitar bem o nosso tempo juntos.",
        ],
    },
)  # fmt: skip

BOOKS = {"en": ENGLISH, "nl": DUTCH, "de": GERMAN, "fr": FRENCH, "es": SPANISH, "it": ITALIAN, "pt": PORTUGUESE}


def book(language: str) -> Phrasebook:
    """The book for a preference such as "de" or "pt-BR"; English when there is none."""
    return BOOKS.get(language[:2].lower(), ENGLISH)
