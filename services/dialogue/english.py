"""English sentences that carry the person's own words, for the lite composer (`composer.py`).

Placeholders are filled with what `listening.py` said back: {clause} a statement in the second person
("you lost your keys", lower case: a template that starts with it capitalises it), {topic} a noun
phrase ("your keys", "the job interview"), {subject} what a request is about ("the weather"), {what} what
the person asks whether they should do ("quit your job"), {asked} a question said back ("why you can't
sleep"). A topic may be singular or plural, so no template makes a verb agree with it ("things with
{topic} are", never "{topic} is"). The answers to questions are honest about what a rule-based
assistant can know: it does not invent facts, opinions or certainty.
"""

from __future__ import annotations

COMBINED: dict[str, list[str]] = {
    # The fused emotion and the person's statement in one sentence (brief and balanced styles).
    "Sad": ["I'm sorry {clause}.", "It sounds really hard that {clause}.", "{clause}, and that sounds heavy.",
            "That's a lot to carry: {clause}."],
    "Happy": ["It's good to hear {clause}.", "{clause}: that sounds genuinely good.", "I love that {clause}.",
              "How nice that {clause}."],
    "Angry": ["It sounds really frustrating that {clause}.", "No wonder you're upset: {clause}.",
              "{clause}, and I can hear how much that annoys you.", "I can see why it gets to you that {clause}."],
    "Neutral": ["So {clause}.", "I hear that {clause}.", "Okay, so {clause}.", "Thanks for telling me that {clause}."],
}  # fmt: skip

TOPICAL: dict[str, list[str]] = {
    "Sad": ["It sounds like there's a lot weighing on you around {topic}.",
            "That sounds hard, with {topic} on your mind.", "I can hear how hard things are with {topic}."],
    "Happy": ["It sounds like things with {topic} feel good.", "I can hear some lightness when you talk about {topic}.",
              "That's lovely to hear about {topic}."],
    "Angry": ["It sounds like {topic} really got to you.", "I can hear how frustrating things with {topic} are.",
              "No wonder you're annoyed about {topic}."],
    "Neutral": ["Thanks for telling me about {topic}.", "Okay, let's talk about {topic}.",
                "I'm following you on {topic}."],
}  # fmt: skip

MIRROR = ["If I understand you, {clause}.", "You're saying {clause}.", "What I'm hearing is that {clause}.",
          "Let me check I've got it: {clause}."]  # fmt: skip
"""The detailed style's reflection: the statement said back without judging it."""

MOVES: dict[str, list[str]] = {
    # The persona's question about the topic; "hard" for Sad and Angry, "open" for Neutral.
    "hard": ["What about {topic} weighs on you most?", "What is it about {topic} that stays with you?",
             "How long have things with {topic} felt this way?",
             "What would help you feel a bit steadier about {topic}?"],
    "open": ["How do you feel when you think about {topic}?", "What does {topic} mean to you right now?",
             "What comes up for you around {topic}?", "Tell me more about {topic}."],
    "savour": ["What about {topic} made you feel good?", "What would you like to hold on to from {topic}?",
               "How does it feel to tell me about {topic}?"],
    "coach": ["What's one small step you could take with {topic} this week?",
              "What would a good outcome with {topic} look like for you?", "What has helped you with {topic} before?",
              "What's in your control when it comes to {topic}?", "What would you like to change about {topic}?"],
    "coach_hard": ["What would help you look after yourself around {topic}?", "Who could you talk to about {topic}?",
                   "What's one kind thing you could do for yourself around {topic} today?"],
    "coach_person": ["What do you need from {topic} right now?", "What would you like things with {topic} to be like?",
                     "What's one thing you could say to {topic} that would help?"],
    "coach_good": ["How could you make more moments like this with {topic}?",
                   "What would you like to do next with {topic}?",
                   "How could you bring more of {topic} into your week?"],
}  # fmt: skip

ADVICE: dict[str, list[str]] = {
    # {topic} may be a task or a person ("your roommate"): hence "things with" and "around".
    "therapist": ["One thing that might help is to take things with {topic} one small piece at a time.",
                  "It might help to write down what worries you most around {topic}, and look at it again when you "
                  "feel calmer.", "A gentle first step could be to talk about {topic} with someone you trust.",
                  "Maybe start by noticing what you need most around {topic}: rest, support, or a plan."],
    "coach": ["Here's a suggestion: pick the smallest next step with {topic} and take it today.",
              "Try this: write down three ways to handle things with {topic}, then choose the one you can start "
              "tomorrow.", "My suggestion: set aside twenty focused minutes for {topic}, then see how it looks.",
              "Start with one concrete action around {topic} that you can finish this week."],
}  # fmt: skip

ADVICE_PERSON: dict[str, list[str]] = {
    # When the topic is someone ("your sister"): suggestions about the relationship, not a task.
    "therapist": ["It might help to write down what you wish {topic} understood, even if you never send it.",
                  "One thing that might help is to notice what you need from {topic}, and what you can give "
                  "yourself meanwhile.", "A gentle first step could be to talk about {topic} with someone you trust.",
                  "Maybe start by giving yourself some space from things with {topic} before deciding anything."],
    "coach": ["Here's a suggestion: decide what you need from {topic}, and put it into one clear sentence.",
              "Try this: write down what you'd want to say to {topic}, then pick the calmest moment to say it.",
              "My suggestion: choose one boundary around {topic} you can keep this week.",
              "Start by asking someone you trust how they see things with {topic}."],
}  # fmt: skip

SHOULD: dict[str, list[str]] = {
    "therapist": ["Only you can decide whether to {what}, but it might help to write down what speaks for it and "
                  "what against it.", "It might help to ask yourself what you're hoping for if you {what}.",
                  "Before deciding whether to {what}, notice how each choice feels when you picture it."],
    "coach": ["Let's weigh it: what would you gain if you {what}, and what would it cost?",
              "Try imagining a month from now: if you {what}, what's the first thing you'd notice?",
              "Give it a score from one to ten: how much do you want to {what}?"],
}  # fmt: skip

NICE_ABOUT = [
    "Here's something nice about {subject}: it can turn an ordinary moment into a small good one, if you stop to "
    "notice it.", "Something nice about {subject}: there's almost always a small detail in it worth enjoying.",
]  # fmt: skip
"""When the subject is not one the composer knows a true, nice thing about (`NICE_FACTS`)."""

NICE_FACTS: dict[str, str] = {
    # Head word of the subject -> one true, gentle thing about it.
    "weather": "Something nice about the weather: it never stays the same for long, and even a grey day makes a "
    "warm drink or a blanket feel like a treat.",
    "rain": "Something nice about rain: it brings out that fresh, earthy smell, which even has a name: petrichor.",
    "sun": "Something nice about sunshine: a little daylight can lift your mood and even help you sleep better at "
    "night.",
    "snow": "Something nice about snow: it muffles sound, so a snowy street can be one of the quietest places around.",
    "sea": "Something nice about the sea: the sound of waves is so calming that many people fall asleep to it.",
    "music": "Something nice about music: a song you love can give you the same little lift as a good meal.",
    "dog": "Something nice about dogs: many of them come closer when their person is sad.",
    "cat": "Something nice about cats: their purr is a low, steady hum that many people find soothing.",
    "coffee": "Something nice about a warm drink: just holding a warm cup can make people feel a little warmer.",
    "nature": "Something nice about nature: even a short walk among trees can ease stress.",
    "sky": "Something nice about the night sky: the light of some stars has travelled for thousands of years to "
    "reach your eyes.",
    "spring": "Something nice about spring: the days get a few minutes longer, every single day.",
    "book": "Something nice about books: a few minutes of reading can slow you down and ease tension.",
    "friend": "Something nice about friendship: it doesn't need big moments; small, regular check-ins keep it warm.",
    "sleep": "Something nice about sleep: every night is a small reset, and your brain sorts through the day while "
    "you rest.",
    "autumn": "Something nice about autumn: the leaves turn gold and red because the green fades and lets colours "
    "that were there all along show.",
}  # fmt: skip
ALIASES = {"sunshine": "sun", "sunny": "sun", "sunlight": "sun", "ocean": "sea", "beach": "sea", "waves": "sea",
           "songs": "music", "song": "music", "dogs": "dog", "puppy": "dog", "cats": "cat", "kitten": "cat",
           "tea": "coffee", "trees": "nature", "tree": "nature", "forest": "nature", "park": "nature",
           "stars": "sky", "star": "sky", "moon": "sky", "flowers": "spring", "books": "book", "reading": "book",
           "friends": "friend", "friendship": "friend", "fall": "autumn", "rainy": "rain", "snowy": "snow",
           "climate": "weather", "outside": "weather"}  # fmt: skip

# fmt: off
NICE_YOU = ["Something nice about you: you took the time to talk about how you feel, and that takes courage.",
            "Here's something true about you: you're still here and still trying, and that says a lot.",
            "Something nice about you: you notice things and you ask, and curiosity like that is a strength."]
# fmt: on
NICE = [
    "Here's something nice: sea otters hold hands while they sleep so they don't drift apart.",
    "Something nice: a kind word can change someone's whole day, and you can give one away for free.",
    "Here's something lovely: somewhere right now, someone is laughing so hard they can't stop.",
]  # fmt: skip
NICE_FOLLOW = ["What do you like about {subject}?", "What made you think of {subject} today?",
               "What's your favourite thing about {subject}?"]  # fmt: skip
NICE_FOLLOW_PLAIN = ["What would make today a little nicer for you?", "What's something small that made you smile "
                     "lately?", "Would you like another one?"]  # fmt: skip

ABOUT = ["I can't look things up, but I'm happy to talk about {subject} with you.",
         "I don't have facts at hand about {subject}, but I'd love to hear what you know."]  # fmt: skip
ABOUT_PERSON = ["I only know what you tell me about {subject}, and I'd like to hear more.",
                "I don't know {subject}, but I'd love to hear about them from you."]  # fmt: skip
ABOUT_FOLLOW = ["What would you like to know about {subject}?", "What got you thinking about {subject}?",
                "What's on your mind about {subject}?"]  # fmt: skip

JOKES = ["Why did the scarecrow win an award? Because he was outstanding in his field.",
         "What do you call a fake noodle? An impasta.", "Why don't eggs tell jokes? They'd crack each other up.",
         "I'm reading a book about anti-gravity, and I can't put it down.",
         "Why did the bicycle fall over? It was two tired."]  # fmt: skip
JOKE_FOLLOW = ["I hope that got at least a small smile.", "Want another one?", "Sorry, I couldn't resist that one."]

OPINION = ["I don't have opinions the way a person does, but I'm curious what {subject} means to you.",
           "Honestly, I'm an AI, so I don't have a stake in {subject}; I'd rather hear your view.",
           "I don't have feelings about {subject} myself, but I can tell it's on your mind."]  # fmt: skip
OPINION_FOLLOW = ["What do you think about {subject}?", "What draws you to {subject}?",
                  "How do you feel about {subject} yourself?"]  # fmt: skip

ABOUT_ME = ["I'm MrrrMe, an AI companion: I listen, notice how you seem to feel, and talk things through with you.",
            "I'm not a person, I'm an AI, but I'm here to listen and think along with you.",
            "I'm an AI assistant built to listen, with an eye on how you're feeling."]  # fmt: skip
ABOUT_ME_FOLLOW = ["What would you like to talk about?", "What's on your mind today?",
                   "What brings you here today?"]  # fmt: skip

MEMORY = ["I keep our recent conversation in mind, but not everything, so tell me again if it matters.",
          "I remember what we've said lately, though not every detail; remind me of what matters most."]  # fmt: skip
MEMORY_FOLLOW = ["What would you like me to keep in mind?", "What was it you wanted to come back to?"]

NORMAL = ["Yes, many people feel this way, and it makes sense given what you're going through.",
          "It's more common than it feels, and it doesn't mean something is wrong with you.",
          "That's a very human reaction, and you're not alone in it."]  # fmt: skip
ALLOWED = ["It makes sense that you'd want to {what}; looking after yourself is not something you have to earn.",
           "There's nothing wrong with wanting to {what}.",
           "It's okay to {what} when you need to; what matters is what it gives you."]  # fmt: skip

REASSURE = ["From what you've told me, your reaction makes sense.",
            "I don't think so: feelings like yours usually make sense once we see where they come from.",
            "It sounds to me like you're reacting to something real."]  # fmt: skip
BETTER = ["Things can get better, often in small steps, and you don't have to figure it all out at once.",
          "Feelings change, even strong ones, and this one can too.",
          "Many people find it does get easier, especially with support."]  # fmt: skip

CLARIFY = ["Could you tell me a bit more about what you mean?", "Can you say a little more, so I understand what "
           "you're asking?", "What's behind the question for you?"]  # fmt: skip
"""After a question with nothing in it to hold on to ("why?")."""

ASKED = ["You're wondering {asked}.", "I hear you asking {asked}.", "So the question is {asked}."]


def nice_fact(subject: str) -> str | None:
    """The true, nice thing the composer knows about the subject's head word, if any."""
    for word in reversed(subject.lower().split()):
        key = ALIASES.get(word, word)
        if key in NICE_FACTS:
            return NICE_FACTS[key]
    return None
