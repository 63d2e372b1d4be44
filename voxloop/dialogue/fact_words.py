"""Word lists the fact rules (:mod:`voxloop.dialogue.fact_rules`) check values against.

All lower case. Lists keep the rules precise: a value that is not clearly a name, a job or an
attribute is rejected rather than guessed at.
"""

from __future__ import annotations

__all__ = [
    "ATTRIBUTE_HEADS",
    "FAMILY_PETS",
    "JOBS",
    "NAME_PARTICLES",
    "NAME_STOP",
    "NUMBER_WORDS",
    "PAST_VERBS",
    "PREFIXES",
    "SECRET_WORDS",
    "STATE_VERBS",
    "TAILS",
    "TENS",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# "I'm X" / "my name is X" / "call me X": words that are not names (states, adjectives,
# function words, nationalities, religions, "call me back"…).
NAME_STOP = _words("""
    a an the not no so very really just also too quite pretty kind sort here there back home
    fine good great ok okay alright sure sorry tired hungry thirsty bored busy happy sad glad
    excited nervous scared afraid ready done sick ill cold hot warm late early lost confused
    curious interested new old young single married engaged divorced alone free available awake
    asleep well better worse full right wrong serious kidding joking listening waiting looking
    thinking wondering calling talking asking feeling getting doing having being coming leaving
    going gonna trying working studying living staying from in at on with about like into over
    up down out off still always never basically literally totally actually honestly unsure
    positive certain worried stressed upset angry mad annoyed frustrated lonely all both one two
    fun funny weird strange hard easy long short simple common unusual difficult boring nice
    cool awesome fantastic perfect terrible awful horrible bad best worst sleepy sweaty
    pregnant retired unemployed vegan vegetarian allergic diabetic gay straight bi trans human
    english french german spanish italian american british canadian chinese japanese korean
    indian russian dutch swedish danish norwegian finnish polish irish scottish welsh mexican
    brazilian australian african european asian latino latina greek turkish arab arabic
    portuguese swiss austrian belgian jewish muslim catholic christian buddhist hindu atheist
    agnostic protestant mormon nigerian kenyan egyptian moroccan algerian tunisian ethiopian
    ghanaian iranian iraqi syrian lebanese israeli palestinian saudi pakistani bangladeshi afghan
    nepali thai vietnamese filipino filipina indonesian malaysian singaporean taiwanese ukrainian
    romanian bulgarian hungarian czech slovak serbian croatian bosnian slovenian albanian
    lithuanian latvian estonian icelandic colombian peruvian chilean argentinian argentine
    venezuelan cuban jamaican haitian ecuadorian bolivian uruguayan guatemalan jordanian kiwi
    aussie brit scot names spelled pronounced written silly stupid lazy later tomorrow today tonight now maybe crazy anytime anything
    whatever whenever sometime soon again please if when what who you your yours me my mine him
    her them us it this that these those because but and or ai robot bot male female man woman
    guy girl boy dude mister sir madam lady gentleman friend buddy pal everything nothing
    something someone somebody anyone nobody myself yourself
""")
NAME_PARTICLES = _words("de del della der di da das dos du la le van von bin ibn al el")

# "I'm a X": the X that are occupations (singular; modifiers before them are allowed).
JOBS = _words("""
    accountant actor actress administrator analyst apprentice architect artist assistant astronaut
    attorney auditor baker banker barber barista bartender biologist bookkeeper broker builder
    butcher caregiver carer carpenter cashier ceo chef chemist cleaner clerk coach comedian
    composer consultant contractor cook counselor counsellor courier cto dancer dentist designer
    detective developer dietitian director doctor driver economist editor electrician engineer
    entrepreneur farmer firefighter fireman fisherman florist freelancer gardener guard
    hairdresser homemaker housekeeper housewife househusband imam intern janitor jeweler
    journalist judge landscaper lawyer lecturer librarian lifeguard manager mathematician
    mechanic midwife miner model musician nanny nurse nutritionist officer optician optometrist
    painter paralegal paramedic pastor pharmacist photographer physician physicist
    physiotherapist pilot plumber poet policeman policewoman politician postman priest
    principal producer professor programmer psychiatrist psychologist rabbi realtor
    receptionist reporter researcher retiree roofer sailor salesman salesperson saleswoman
    scientist secretary singer soldier statistician student surgeon sysadmin tailor teacher
    technician teller therapist trader trainee translator tutor veterinarian vet waiter waitress
    welder writer zookeeper
""")

# "my X is Y": X must end with one of these (or start with "favorite").
ATTRIBUTE_HEADS = _words("""
    name nickname birthday birth anniversary color food dish meal drink band song singer artist
    musician album movie film show series book author writer sport team player game animal
    place city country season holiday number address email language tongue sign type size
    height weight job occupation profession major hometown nationality religion pronouns code
    school university college company employer hobby hobbies passion pet pets
""")
# never remembered from "my X is Y", whatever the X
SECRET_WORDS = _words("password passcode pin ssn security cvv credit card bank account login")

# "I have a X", "my X is called Y": relatives and pets.
FAMILY_PETS = _words("""
    dog cat puppy kitten parrot bird hamster rabbit bunny fish turtle tortoise snake horse pony
    ferret lizard goldfish son daughter kid child boy girl brother sister sibling twin grandchild
    grandson granddaughter wife husband partner boyfriend girlfriend fiance fiancee baby mom
    mother mum dad father grandma grandmother grandpa grandfather aunt uncle cousin nephew niece
    friend roommate boss
""")

# Said before a statement and not part of it ("so", "well", "by the way", a greeting).
PREFIXES = (
    "just so you know", "for your information", "for the record", "to be honest", "by the way",
    "first of all", "nice to meet you", "good morning", "good afternoon", "good evening",
    "hi there", "hello there", "hey there", "well actually", "let me tell you", "fun fact",
    "all right", "in fact", "i mean", "you know", "oh and", "so", "well", "oh", "ah", "okay",
    "ok", "alright", "yeah", "yes", "yep", "yup", "no", "nope", "right", "sure", "and", "but",
    "also", "plus", "actually", "anyway", "anyways", "like", "btw", "fyi", "hi", "hello",
    "hey", "honestly", "oh yeah",
)
# Said after a statement and not part of it.
TAILS = (
    "just so you know", "for the record", "if you must know", "if that helps", "by the way",
    "at the moment", "these days", "right now", "you know", "i guess", "i think", "i believe",
    "as well", "actually", "though", "anyway", "anyways", "haha", "lol", "btw", "too", "also",
    "now", "currently", "okay", "ok",
)

# "remember that X": X must contain one of these to be a statement, not a noun phrase.
STATE_VERBS = _words("""
    is are was were am 'm 's 're 've 'll 'd has have had will would can could should must
    need needs want wants like likes love loves hate hates don't doesn't didn't won't can't
    cannot do does did live lives work works go goes get gets got take takes keep keeps
    owe owes left parked put hid
""")
# Verbs left as they are after "I" when rewriting to the third person.
PAST_VERBS = _words("""
    was were are had did went left put got gave took made said told saw came bought brought
    thought kept lost met paid sent set sold spent found hid forgot wrote ate drove ran sat
    stood won began broke chose flew knew lent let hit cut slept woke can could will would
    should must might may shall used
""")

NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
