"""The anchored patterns of the fact rules ("my name is X", "I live in X", "I like X"…), each
with the function that checks its value and writes the fact."""

from __future__ import annotations

import re
from collections.abc import Callable

from voxloop.dialogue.fact_grammar import parse_number, third_person
from voxloop.dialogue.fact_values import (
    StatedFact,
    clean_value,
    job,
    make_fact,
    name,
    place,
    word_list,
)
from voxloop.dialogue.fact_words import FAMILY_PETS, JOBS

__all__ = ["I_AM", "RULES"]

_TIME_STOP = {"night", "nights", "the morning", "mornings", "the evening", "evenings", "weekends",
              "the weekend", "times", "the moment", "home", "a lot", "hard", "late"}
_LIKE_TO_STOP = {"say", "admit", "bother", "interrupt", "ask", "think", "break", "tell", "imagine",
                 "hear", "see", "believe", "be"}
_VERBS = {"like": "likes", "love": "loves", "enjoy": "enjoys", "prefer": "prefers", "adore": "adores",
          "hate": "hates", "dislike": "dislikes", "detest": "detests", "despise": "despises"}

I_AM = r"(?:i'm|i am|im)"
_ADV = r"(?:(?:really|also|just|actually|absolutely|totally|definitely|still|truly|genuinely|" \
       r"honestly|kind of|kinda|sort of|especially|so|quite|do)\s+){0,2}"
_NUM = r"(?P<n>\d{1,3}|[a-z]+(?:[ -][a-z]+){0,3}?)"


Build = Callable[[re.Match[str], bool], StatedFact | None]
RULES: list[tuple[re.Pattern[str], Build]] = []


def _rule(pattern: str) -> Callable[[Build], Build]:
    def add(build: Build) -> Build:
        RULES.append((re.compile(pattern, re.IGNORECASE), build))
        return build
    return add


@_rule(r"(?:my (?:first )?name is|my name's|the name's|the name is|name's)\s+(?:actually\s+|just\s+)?(?P<v>.+)")
def _name_is(m: re.Match[str], cased: bool) -> StatedFact | None:
    v = name(m["v"], cased)
    return make_fact(f"The user's name is {v}", "name") if v else None


@_rule(r"(?:(?:you can|you may|please|just|everyone|everybody|people|my friends)\s+)*(?:call|calls)\s+me\s+(?P<v>.+)"
       r"|i go by\s+(?P<w>.+)")
def _call_me(m: re.Match[str], cased: bool) -> StatedFact | None:
    v = name(m["v"], cased) if m["v"] else name(m["w"], cased, strict=True)
    return make_fact(f"The user wants to be called {v}", "preferred name") if v else None


@_rule(I_AM + r"\s+(?:now\s+|already\s+)?" + _NUM + r"(?P<y>\s+(?:years?|yrs?)\s+old|\s+years?\s+of\s+age)?"
       r"|i (?:just\s+)?turned\s+" + _NUM.replace("?P<n>", "?P<t>") + r"(?:\s+years?\s+old)?"
       r"(?:\s+(?:today|yesterday|last week|this week|last month|this month|recently))?"
       r"|my age is\s+" + _NUM.replace("?P<n>", "?P<a>"))
def _age(m: re.Match[str], cased: bool) -> StatedFact | None:
    n = parse_number(m["n"] or m["t"] or m["a"])
    low = 1 if m["y"] or m["t"] or m["a"] else 3
    return make_fact(f"The user is {n} years old", "age") if n is not None and low <= n <= 120 else None


@_rule(I_AM + r"\s+(?:a\s+|an\s+)?(?:strict\s+|full\s+|fully\s+|completely\s+)?"
       r"(?P<d>vegetarian|vegan|pescatarian|pescetarian)")
def _diet(m: re.Match[str], cased: bool) -> StatedFact | None:
    return make_fact(f"The user is {m['d'].lower()}", "diet")


@_rule(I_AM + r"\s+(?P<d>lactose intolerant|gluten intolerant|gluten[- ]free|celiac|coeliac|diabetic)"
       r"|i (?:don't|do not|dont|never) eat\s+(?P<e>meat|red meat|pork|beef|chicken|fish|seafood|shellfish|"
       r"dairy|eggs|gluten|nuts|peanuts|sugar)")
def _food(m: re.Match[str], cased: bool) -> StatedFact | None:
    return make_fact(f"The user is {m['d'].lower()}" if m["d"] else f"The user doesn't eat {m['e'].lower()}")


@_rule(I_AM + r"\s+(?:(?:very|really|severely|highly|deathly|seriously|super|also)\s+)?allergic\s+to\s+(?P<v>.+)"
       r"|i have (?:an\s+)?allerg(?:y|ies) to\s+(?P<w>.+)"
       r"|i have (?P<art>a|an)\s+(?P<x>[\w' -]{2,40}?)\s+allergy")
def _allergy(m: re.Match[str], cased: bool) -> StatedFact | None:
    if m["x"]:
        x = clean_value(m["x"])
        return make_fact(f"The user has {m['art'].lower()} {third_person(x)} allergy") if x else None
    v = clean_value(m["v"] or m["w"])
    return make_fact(f"The user is allergic to {third_person(v)}") if v else None


@_rule(I_AM + r"\s+(?:(?:happily|recently|newly|now|still)\s+)?(?P<s>married|single|engaged|divorced|widowed)"
       r"(?:\s+to\s+(?P<v>.+))?")
def _relationship(m: re.Match[str], cased: bool) -> StatedFact | None:
    state = m["s"].lower()
    if m["v"] is None:
        return make_fact(f"The user is {state}", "relationship")
    v = clean_value(m["v"])
    return make_fact(f"The user is {state} to {third_person(v)}", "relationship") if v and state != "single" else None


@_rule(I_AM + r"\s+(?:originally\s+)?from\s+(?P<v>.+)|i (?:originally\s+)?come\s+from\s+(?P<w>.+)"
       r"|i grew up in\s+(?P<g>.+)")
def _origin(m: re.Match[str], cased: bool) -> StatedFact | None:
    v = place(m["v"] or m["w"] or m["g"], cased, proper=True)
    if not v:
        return None
    return make_fact(f"The user grew up in {v}" if m["g"] else f"The user is from {v}", "origin")


@_rule(r"i (?:currently\s+|now\s+|still\s+|actually\s+)?live\s+(?P<p>in|on|near)\s+(?P<v>.+)"
       r"|" + I_AM + r"\s+(?:based|living)\s+in\s+(?P<b>.+)"
       r"|i (?:just\s+|recently\s+|actually\s+)?moved\s+to\s+(?P<m>.+)")
def _home(m: re.Match[str], cased: bool) -> StatedFact | None:
    v = place(m["v"] or m["b"] or m["m"], cased, proper=m["m"] is not None)
    if not v:
        return None
    verb = "moved to" if m["m"] else f"lives {(m['p'] or 'in').lower()}"
    return make_fact(f"The user {verb} {v}", "home")


@_rule(r"i (?:currently\s+|now\s+|actually\s+)?work\s+as\s+(?P<v>.+)")
def _work_as(m: re.Match[str], cased: bool) -> StatedFact | None:
    v = clean_value(m["v"])
    if not v or not (word_list(v)[0] in ("a", "an") or any(w in JOBS for w in word_list(v))) or len(v.split()) > 10:
        return None
    return make_fact(f"The user works as {third_person(v)}", "job")


@_rule(r"i (?:currently\s+|now\s+|actually\s+)?work\s+(?P<p>at|for|in)\s+(?P<v>.+)")
def _work_at(m: re.Match[str], cased: bool) -> StatedFact | None:
    if m["v"].lower() in ("myself", "myself now"):
        return make_fact("The user is self-employed", "job")
    v = clean_value(m["v"])
    if not v or v.lower() in _TIME_STOP or len(v.split()) > 10:
        return None
    return make_fact(f"The user works {m['p'].lower()} {third_person(v)}", "workplace")


@_rule(I_AM + r"\s+(?:(?:now|recently|currently)\s+)?(?P<s>retired|unemployed|self-employed|self employed|"
       r"between jobs|out of work)")
def _nojob(m: re.Match[str], cased: bool) -> StatedFact | None:
    return make_fact(f"The user is {m['s'].lower().replace('self employed', 'self-employed')}", "job")


@_rule(I_AM + r"\s+(?P<a>an?)\s+(?P<v>.+)")
def _job_rule(m: re.Match[str], cased: bool) -> StatedFact | None:
    v = job(m["a"].lower(), m["v"])
    return make_fact(f"The user is {v}", "job") if v else None


@_rule(I_AM + r"\s+(?P<neg>not\s+)?(?:a\s+)?(?:(?:big|huge|great|massive)\s+)?fan\s+of\s+(?P<v>.+)")
def _fan(m: re.Match[str], cased: bool) -> StatedFact | None:
    v = clean_value(m["v"])
    return make_fact(f"The user is {'not ' if m['neg'] else ''}a fan of {third_person(v)}") if v else None


@_rule(r"i\s+" + _ADV + r"(?P<verb>like|love|enjoy|prefer|adore|hate|dislike|detest|despise|"
       r"can't stand|cannot stand)\s+(?P<v>.+)"
       r"|i\s+(?:really\s+)?(?:don't|do not|dont)\s+(?:really\s+|much\s+|particularly\s+|actually\s+)?"
       r"(?:like|enjoy|love)\s+(?P<n>.+)")
def _likes(m: re.Match[str], cased: bool) -> StatedFact | None:
    v = clean_value(m["v"] or m["n"])
    words = word_list(v or "")
    if not v or (words[0] == "to" and len(words) > 1 and words[1] in _LIKE_TO_STOP) or words[:2] == ["the", "idea"]:
        return None
    if m["n"]:
        return make_fact(f"The user doesn't like {third_person(v)}")
    verb = m["verb"].lower()
    return make_fact(f"The user {_VERBS.get(verb, verb)} {third_person(v)}")


@_rule(r"(?:i have|i've got|i have got|i've)\s+(?P<v>(?:a|an|one|two|three|four|five|six|\d)\s+.+)")
def _has(m: re.Match[str], cased: bool) -> StatedFact | None:
    words = word_list(m["v"])
    for w in words[1:4]:
        if w in FAMILY_PETS or w.rstrip("s") in FAMILY_PETS or w in ("children", "grandchildren"):
            v = clean_value(m["v"])
            return make_fact(f"The user has {third_person(v)}") if v else None
    return None

