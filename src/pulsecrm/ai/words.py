"""Plain-English building blocks for the offline engine: tokens, numbers, amounts, durations, dates.

Everything here is deterministic and stdlib-only. Text is normalised once into lowercase
tokens joined by single spaces ("₹5,000" -> "₹ 5,000", "haven't" -> "have not",
"5k-10k" -> "5 k to 10 k"), so the patterns in `offline` can be written for one spelling.
Each token keeps the words it came from, so anything left over is reported as the user
typed it.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

# --- numbers ----------------------------------------------------------------------------------

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_W = "|".join(
    sorted([*UNITS, *TENS, "hundred", "thousand", "dozen", "couple of", "couple"], key=len, reverse=True)
)
# "five", "twenty five", "a hundred", "one hundred and fifty", "a couple of", "half a"
NUMW = rf"(?:half an? dozen|half an?|(?:an? )?(?:{_W})(?: (?:and )?(?:{_W})| and an? half)*)"
NUM = r"\d+(?:[.,]\d+)*"
NUMBER = rf"(?:{NUM}|{NUMW})"
MULTIPLIERS = {
    "k": 1_000, "thousand": 1_000, "thousands": 1_000, "grand": 1_000,
    "l": 100_000, "lakh": 100_000, "lakhs": 100_000, "lac": 100_000, "lacs": 100_000, "lk": 100_000,
    "cr": 10_000_000, "crore": 10_000_000, "crores": 10_000_000,
    "m": 1_000_000, "mn": 1_000_000, "mil": 1_000_000, "million": 1_000_000, "millions": 1_000_000,
    "b": 1_000_000_000, "bn": 1_000_000_000, "billion": 1_000_000_000,
}  # fmt: skip
_MULT = "|".join(sorted(MULTIPLIERS, key=len, reverse=True))
MULTIPLIER_WORDS = _MULT
CURRENCY = r"(?:₹|\$|€|£|rs|inr|usd|eur|gbp|rupees?)"
CURRENCY_AFTER = r"(?:rupees|rupee|rs|inr|dollars|dollar|usd|bucks|euros|eur|pounds|gbp)"
# A money amount: currency symbols are only decoration, never converted.
# "a lakh", "a grand": one of a word multiplier
_A_MULT = r"an?(?= (?:lakh|lac|grand|crore|million|billion)(?![a-z]))"
AMOUNT = rf"(?:{CURRENCY} )?(?:{_A_MULT}|{NUMBER})(?: (?:{_MULT})(?![a-z]))?(?: {CURRENCY_AFTER})?"


def number(text: str) -> Decimal | None:
    """'5' '1,50,000' '1.5' 'twenty five' 'a hundred' 'half a' -> Decimal."""
    text = text.strip()
    if not text:
        return None
    if text[0].isdigit():
        try:
            return Decimal(text.replace(",", ""))
        except InvalidOperation:
            return None
    words = text.replace("couple of", "couple").split()
    if words[:1] == ["half"]:
        return Decimal(6) if words[-1:] == ["dozen"] else Decimal("0.5")
    total: Decimal = Decimal(0)
    current: Decimal = Decimal(0)
    seen = False
    for word in words:
        if word in ("a", "an", "and"):
            continue  # "a hundred", "a dozen": a multiplier counts one of itself; "a couple" is 2
        seen = True
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "half" and current:
            current += Decimal("0.5")  # "one and a half", "two and a half thousand"
        elif word == "couple":
            current += 2
        elif word == "dozen":
            current = max(current, Decimal(1)) * 12
        elif word == "hundred":
            current = max(current, Decimal(1)) * 100
        elif word == "thousand":
            total += max(current, Decimal(1)) * 1000
            current = Decimal(0)
        else:
            return None
    return Decimal(total + current) if seen else None


_AMOUNT_PARTS = re.compile(
    rf"^(?:{CURRENCY} )?(?P<n>{_A_MULT}|{NUMBER})(?: (?P<m>{_MULT}))?(?: {CURRENCY_AFTER})?$"
)


def amount(text: str) -> Decimal | None:
    match = _AMOUNT_PARTS.match(text.strip())
    if match is None:
        return None
    value = Decimal(1) if match["n"] in ("a", "an") else number(match["n"])
    if value is None:
        return None
    if match["m"]:
        value *= MULTIPLIERS[match["m"]]
    return value


def is_money_like(text: str) -> bool:
    """An amount written with a currency or a multiplier: '₹500', '5k', '2 lakh'."""
    match = _AMOUNT_PARTS.match(text.strip())
    return bool(match and (match["m"] or re.match(CURRENCY, text.strip())))


def plain(value: Decimal) -> int | str:
    """JSON for an amount: an int when whole, else a decimal string (never a float)."""
    normal = value.normalize()
    return int(normal) if normal == normal.to_integral_value() else format(normal, "f")


# --- durations and dates ----------------------------------------------------------------------

UNIT_DAYS = {
    "day": 1, "days": 1, "d": 1,
    "week": 7, "weeks": 7, "wk": 7, "wks": 7, "w": 7,
    "fortnight": 14, "fortnights": 14,
    "month": 30, "months": 30, "mo": 30, "mos": 30, "mth": 30, "mths": 30, "m": 30,
    "quarter": 91, "quarters": 91,
    "year": 365, "years": 365, "yr": 365, "yrs": 365, "y": 365,
}  # fmt: skip
_UNIT = "|".join(sorted(UNIT_DAYS, key=len, reverse=True))
# "90+ days" is "90 days": the period's own comparison ("for", "more than") says which side.
DURATION = rf"(?:(?:{NUM}(?: \+)?|{NUMW}|an?|few) )?(?:{_UNIT})(?![a-z])"
_DURATION_PARTS = re.compile(rf"^(?:(?P<n>{NUM}|{NUMW}|an?|few)(?: \+)? )?(?P<u>{_UNIT})$")


def duration_days(text: str) -> int | None:
    """'3 months' -> 90, 'a year' -> 365, '2 weeks' -> 14. A month is 30 days, a year 365."""
    match = _DURATION_PARTS.match(text.strip())
    if match is None or match["n"] == "few":
        return None
    count = number(match["n"]) if match["n"] and match["n"] not in ("a", "an") else Decimal(1)
    if count is None:
        return None
    if UNIT_DAYS[match["u"]] == 30 and count % 12 == 0 and count:
        return int(count / 12 * 365)  # "12 months" is a year, not 360 days
    return int(count * UNIT_DAYS[match["u"]])


MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS |= {"sept": 9}
_MON = "|".join(sorted(MONTHS, key=len, reverse=True))
_ORD = r"(?: (?:st|nd|rd|th))?"
_START = r"(?:the )?(?:start|beginning|first day) of"
DATE = (
    rf"(?:{_START} (?:the |this )?(?:year|month|quarter|week)|(?:the )?new years?(?: day)?"
    rf"|{_START} (?:{_MON})(?: \d{{4}})?|{_START} \d{{4}}"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}{_ORD} (?:of )?(?:{_MON})(?: ,)?(?: \d{{4}})?"
    rf"|(?:{_MON}) \d{{1,2}}{_ORD}(?: ,)? \d{{4}}|(?:{_MON}) \d{{1,2}}{_ORD}(?![\d])"
    rf"|(?:{_MON})(?: \d{{4}})?|(?:(?:the )?(?:calendar )?year )?\d{{4}})"
)
_DAY_MONTH = re.compile(rf"^(?P<d>\d{{1,2}}){_ORD} (?:of )?(?P<m>{_MON})(?: ,)?(?: (?P<y>\d{{4}}))?$")
_MONTH_DAY = re.compile(rf"^(?P<m>{_MON}) (?P<d>\d{{1,2}}){_ORD}(?: ,)?(?: (?P<y>\d{{4}}))?$")
_MONTH_YEAR = re.compile(rf"^(?P<m>{_MON})(?: (?P<y>\d{{4}}))?$")


def date_range(text: str, today: date) -> tuple[date, date] | None:
    """The first and last day a date phrase covers: '2025' is a year, 'march 2025' a month.

    Without a year a month means its latest occurrence not after today."""
    text = re.sub(r"^(?:the )?(?:calendar )?year (?=\d{4}$)", "", text.strip())  # "the year 2025"
    if re.fullmatch(r"(?:the )?new years?(?: day)?", text):
        text = "start of the year"  # "since New Year": 1 January of this year
    start = re.match(r"^(?:the )?(?:start|beginning|first day) of (?:the |this )?", text)
    if start:
        rest = text[start.end() :]
        if rest in ("year", "month", "quarter", "week"):
            found = calendar_range(f"this {rest}", today)
        else:
            found = date_range(rest, today)
        return None if found is None else (found[0], found[0])
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return day, day
        if re.fullmatch(r"\d{4}", text):
            year = int(text)
            return (date(year, 1, 1), date(year, 12, 31)) if 1900 < year < 2200 else None
        for pattern in (_DAY_MONTH, _MONTH_DAY):
            match = pattern.match(text)
            if match:
                month = MONTHS[match["m"]]
                year = int(match["y"]) if match["y"] else _latest_year(month, today, int(match["d"]))
                day = date(year, month, int(match["d"]))
                return day, day
        match = _MONTH_YEAR.match(text)
        if match:
            month = MONTHS[match["m"]]
            year = int(match["y"]) if match["y"] else _latest_year(month, today, 1)
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:
        return None
    return None


def _latest_year(month: int, today: date, day: int) -> int:
    return today.year if (month, day) <= (today.month, today.day) else today.year - 1


def calendar_range(phrase: str, today: date) -> tuple[date, date] | None:
    """'this month' -> (1st of this month, today); 'last month' -> the whole previous month."""
    phrase = phrase.replace("current", "this").replace("previous", "last")
    phrase = phrase.removeprefix("the ")
    first_of_month = today.replace(day=1)
    monday = today - timedelta(days=today.weekday())
    quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    before = quarter - timedelta(days=1)
    last_quarter = date(before.year, 3 * ((before.month - 1) // 3) + 1, 1)
    ranges = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "this week": (monday, today),
        "last week": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "this month": (first_of_month, today),
        "last month": (
            (first_of_month - timedelta(days=1)).replace(day=1),
            first_of_month - timedelta(days=1),
        ),
        "this year": (date(today.year, 1, 1), today),
        "last year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        "this quarter": (quarter, today),
        "last quarter": (last_quarter, quarter - timedelta(days=1)),
    }
    return ranges.get(phrase)


# --- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    text: str  # normalised
    original: str  # as typed (for reporting what was not understood)


_TOKEN = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"|(?!(?i:rs|inr|usd|eur|gbp)\d)[^\W\d_]+\d[^\W_]*"  # an id such as C001 (but "Rs500" is money)
    r"|[\w.+-]*@[\w-]+(?:\.[\w-]+)+"
    r"|[^\W\d_]+(?:\.(?:com|in|net|org|co|io|edu|gov|info|biz|uk))+(?![\w])"
    r"|\d+(?:[.,]\d+)*"
    r"|[^\W\d_]+(?:'[^\W\d_]+)*"
    r"|>=|<=|=>|=<|!=|<>|[^\w\s]",
)
_NOT_CONTRACTIONS = {
    "haven't": "have", "havent": "have", "hasn't": "has", "hasnt": "has", "hadn't": "had",
    "hadnt": "had", "didn't": "did", "didnt": "did", "don't": "do", "dont": "do",
    "doesn't": "does", "doesnt": "does", "aren't": "are", "arent": "are", "isn't": "is",
    "isnt": "is", "wasn't": "was", "wasnt": "was", "weren't": "were", "werent": "were",
    "won't": "will", "wont": "will", "can't": "can", "cant": "can", "cannot": "can",
}  # fmt: skip
_NOT_STEMS = ("have", "has", "had", "did", "does", "was", "were", "are")


def _misspelt_not(word: str, vocabulary: frozenset[str]) -> str | None:
    """'havn't', 'hasent', 'dosent': a negated auxiliary one letter off, read as one."""
    plain = word.replace("'", "")
    if not plain.endswith("nt") or word in vocabulary or plain in ENGLISH or len(plain) < 5:
        return None
    stem = plain[:-2]
    found = {k for k in _NOT_STEMS if k[0] == stem[0] and edit_distance(stem, k, 1) <= 1}
    return found.pop() if len(found) == 1 else ("have" if found else None)


_CONTRACTION = re.compile(r"^(i|we|you|they|who|that|he|she|it|there)'(ve|d|re|ll|m)$")
_CONTRACTED = {"ve": "have", "d": "had", "re": "are", "ll": "will", "m": "am"}
# Typographic quotes and dashes as people paste them from documents.
_PUNCT = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "`": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
    | {"≥": ">=", "≤": "<=", "≠": "!="}
)
_NUMERIC = re.compile(rf"^(?:{NUM}|{_MULT}|₹|\$|€|£|rs|inr)$")
_PER_BEFORE = frozenset(
    {"spend", "spent", "spending", "value", "val", "amount", "amt", "revenue", "sales", "avg", "average"}
)
_PER_AFTER = frozenset({"order", "purchase", "transaction", "txn", "bill", "basket", "visit"})
# "i.e." and "e.g." as one word each, so their dots end no clause: "recent buyers (i.e. last 15 days)".
_THAT_IS = re.compile(r"(?<![\w.])(?:i\.\s?e|e\.\s?g)(?:\.|(?![\w.]))", re.IGNORECASE)


# "15/08/2026", "1-4-26": a date written with slashes or dashes is day, month, year (as in
# India); one that is no such day is left alone (and reported).
_SLASH_DATE = re.compile(r"(?<![\w/.-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?![\w/.-])")
_BETWEEN = re.compile(r"(?<![\w/])b/w(?![\w/])", re.IGNORECASE)  # "spent b/w 5k and 10k"


def _slash_date(m: re.Match[str]) -> str:
    day, month, year = int(m[1]), int(m[3]), int(m[4])
    year += 2000 if year < 100 else 0
    try:
        date(year, month, day)
    except ValueError:
        return m[0]
    return f"{day} {calendar.month_abbr[month].lower()} {year}"


def tokenize(prompt: str, vocabulary: frozenset[str]) -> list[Token]:
    text = unicodedata.normalize("NFKC", prompt).translate(_PUNCT)
    text = _THAT_IS.sub(lambda m: " ie " if m[0][:1] in "iI" else " eg ", text)
    text = _BETWEEN.sub("between", _SLASH_DATE.sub(_slash_date, text))
    raw = _TOKEN.findall(text)
    out: list[Token] = []
    skip = -1
    for i, word in enumerate(raw):
        if i == skip:
            continue
        low = word.lower()
        if low in ('"', "'", "?", "!", "*", "_", "#"):
            continue
        if low == "." and out and (out[-1].text == "rs" or out[-1].original.lower() in _ABBREVIATED):
            continue  # "rs. 500", "avg. order value": the dot ends an abbreviation, not a sentence
        if low in ("-", "~"):
            # "5k-10k" is a range; "one-time" and "mumbai-based" are one word each side.
            prev = out[-1].text if out else ""
            nxt = raw[i + 1].lower() if i + 1 < len(raw) else ""
            if _NUMERIC.match(prev) and (_NUMERIC.match(nxt) or nxt[:1].isdigit()):
                out.append(Token("to", word))
            continue
        if low == ":":
            continue  # "spend: > 5000", "tier: gold": a label and its value
        if low in (".", "!", ";"):
            out.append(Token(",", word))
            continue
        if low == "&":
            out.append(Token("and", word))
            continue
        if low == "/":
            # "spend/order" is per order; "gold/platinum" is either; "w/in" is within
            prev = out[-1].original.lower() if out else ""
            nxt = raw[i + 1].lower() if i + 1 < len(raw) else ""
            if prev == "w" and nxt in ("in", "o"):
                out[-1] = Token("within" if nxt == "in" else "without", out[-1].original + word + nxt)
                skip = i + 1
                continue
            per = prev in _PER_BEFORE and nxt.rstrip("s") in _PER_AFTER
            out.append(Token("per" if per else "or", word))
            continue
        negated = _NOT_CONTRACTIONS.get(low) or _misspelt_not(low, vocabulary)
        if negated:
            out.append(Token(negated, word))
            out.append(Token("not", ""))
            continue
        contraction = _CONTRACTION.match(low)
        if contraction:
            # "I'd like", "who've spent", "we're after": the word, then what its ending stands for.
            out.append(Token(contraction[1], word))
            out.append(Token(_CONTRACTED[contraction[2]], ""))
            continue
        if low.endswith("'s"):
            low = low[:-2]
        elif "'" in low:
            low = low.replace("'", "")
        # A name is never a typo: "named Zara" must not become "named zero".
        naming = bool(out) and (
            out[-1].text in _NAME_CUES
            or (
                out[-1].text in ("or", "and")
                and len(out) > 1
                and out[-2].text == out[-2].original.lower()
                and out[-2].original[:1].isupper()
            )
        )
        if naming:
            out.append(Token(low, word))
        else:
            out.append(Token(ABBREVIATIONS.get(low) or correct(low, vocabulary), word))
    return out


# Short forms people type for the words the patterns are written with ("avg order val").
ABBREVIATIONS = {
    "val": "value", "vals": "values", "amt": "amount", "amnt": "amount", "ord": "order",
    "ords": "orders", "txn": "transaction", "txns": "transactions", "trxn": "transaction",
    "trxns": "transactions", "dys": "days", "yr": "year", "yrs": "years", "mths": "months",
    "mnths": "months", "wks": "weeks",
}  # fmt: skip
# Abbreviations a dot may follow ("avg.", "no. of orders").
_ABBREVIATED = frozenset({*ABBREVIATIONS, "avg", "approx", "min", "max", "tot", "no", "nos", "incl", "excl"})


_NAME_CUES = frozenset({"named", "called", "name", "names", "is", "surname", "surnamed"})


# Ordinary words that are one edit from a keyword: real words, never typos ("good" is not
# "gold", "send" not "spend", "none" not "nine").
ENGLISH = frozenset(
    """
    about above after again against almost alone along already also although always among
    another anyone anything anywhere around because become before behind being below beside
    better between beyond both bring could does doing done down during each either else enough
    even ever every exactly except fall fast feel find five four free from front full gave give
    given goes going gone good great grow half hand happy hard have having head hear help here
    high hold home hope house however idea into just keep kind know known large last late later
    learn least leave left less life like line little live long look lose lost made make many
    mean might mind more most move much must name near need never next nice night nine none
    nothing number often once only open order other over part past people place placed plan
    play point price pretty quite rather read real really right same save says seen send sent
    shop show side since small some soon sort spend start state stay step still stop such sure
    take talk team tell than that their them then there these they thing think this those
    though three through till time today told took town tree true turn under until upon used
    user very want week well went were what when where which while whole will wish with
    within without word work would year years your good gold info send spend stop store
    aged bank case clicked code cost costs country court create data deal delivery details
    event film fund game hall hate heart heat land lead liked listen load loads love main male
    market match meal media mouth offer offline pain paint pair park party prize promo ring
    sale shipped shoulder slow snow staff star states stone story test thus tough wait west
    white world yeah zone
    """.split()  # noqa: SIM905 - a word list is easier to extend as text
)


def correct(word: str, vocabulary: frozenset[str]) -> str:
    """A small typo tolerance: an unknown word of 4+ letters close to exactly one keyword."""
    if len(word) < 4 or word in vocabulary or word in ENGLISH or not word.isalpha():
        return word
    if word.endswith("s") and word[:-1] in vocabulary:
        return word  # the plural of a keyword ("tiers") is no typo
    return _closest(word, vocabulary)


@lru_cache(maxsize=4096)
def _closest(word: str, vocabulary: frozenset[str]) -> str:
    # Typos keep the first letter far more often than not; checking only those keywords keeps
    # this well under a millisecond. One edit (a transposition counts as one) up to six
    # letters, two beyond.
    limit = 1 if len(word) <= 6 else 2
    best_distance, best = limit + 1, []
    for candidate in vocabulary:
        if candidate[0] != word[0] or abs(len(candidate) - len(word)) > limit or len(candidate) < 4:
            continue
        distance = edit_distance(word, candidate, limit)
        if distance < best_distance:
            best_distance, best = distance, [candidate]
        elif distance == best_distance:
            best.append(candidate)
    if len(best) > 1:
        # "teir" is as near "tier" as "their": two letters swapped is the likelier slip.
        swapped = [c for c in best if sorted(c) == sorted(word)]
        # "orderd" is as near "order" as "ordered"; a dropped letter is the likelier slip.
        best = swapped or [c for c in best if _subsequence(word, c)]
    return best[0] if len(best) == 1 else word


def _subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(ch in letters for ch in short)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent swaps), capped at limit + 1."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]
