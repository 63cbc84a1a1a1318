"""Reading a prompt: find the atoms, read the words between them as connectives, build the tree."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pulsecrm.ai import words as w
from pulsecrm.ai.offline.atoms import Atom, Node, _and, _cond, _range_node
from pulsecrm.ai.offline.grammar import Context, grammar_for
from pulsecrm.ai.offline.lexicon import (
    CONNECTIVE_PHRASES,
    CONNECTIVES,
    FILLER,
    FILLER_PHRASES,
    GROUP_JOINERS,
    GROUP_OPENERS,
    RELATIVE_WORDS,
    UNION_JOINERS,
)
from pulsecrm.ai.offline.quantities import _compared
from pulsecrm.errors import InvalidInput
from pulsecrm.segments import rules as rule_lang
from pulsecrm.segments.catalog import Catalog


class NotUnderstood(InvalidInput):
    code = "prompt_not_understood"


@dataclass(frozen=True)
class Parsed:
    rules: Node
    not_understood: list[str]
    notes: list[str]


MAX_PROMPT = 1000


def rules_from_text(prompt: str, catalog: Catalog, *, now: datetime | None = None) -> Parsed:
    """The rule tree a prompt describes, what could not be read, and the defaults assumed.

    Raises NotUnderstood (422, naming `prompt`) when no condition is found at all."""
    grammar = grammar_for(catalog)
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    tokens = w.tokenize(prompt[:MAX_PROMPT], grammar.vocabulary)
    capitalised = {t.text for t in tokens if t.original[:1].isupper()}
    text = " ".join(t.text for t in tokens)
    starts, pos = [], 0
    for token in tokens:
        starts.append(pos)
        pos += len(token.text) + 1
    ctx = Context(catalog, grammar, today, capitalised, text=text)

    atoms: list[Atom] = []
    work = text
    for pattern in grammar.patterns:
        if not any(ch.isalnum() or ch in "₹$<>=+" for ch in work):
            break
        found: list[Atom] = []
        for m in pattern.regex.finditer(work):
            atom = pattern.handler(m, ctx)
            if atom is None:
                continue
            found.extend(atom if isinstance(atom, list) else [atom])
        for atom in found:
            work = work[: atom.start] + "\x00" * (atom.end - atom.start) + work[atom.end :]
            atoms.append(atom)
    atoms.sort(key=lambda a: a.start)
    atoms = _complete(_periods(atoms, today))

    stream, not_understood = _stream(tokens, starts, atoms)
    if not atoms:
        raise NotUnderstood(
            "no condition found in the prompt; try e.g. “spent more than 5k and haven't ordered in "
            "3 months, in Mumbai or Pune”",
            details=[
                {
                    "loc": ["body", "prompt"],
                    "path": "$.prompt",
                    "message": "nothing in the prompt names a customer field, amount, count, date or place",
                    "not_understood": not_understood,
                }
            ],
        )
    items = _neither(_lists(_merge_places(_nor(stream))), text)
    ambiguous = []
    for atom in _trailing(items, text):
        # "VIPs or big spenders in Delhi": Delhi VIPs, or all VIPs? Read as both, and reported.
        said = _said(tokens, starts, atom.start, atom.end)
        not_understood.append(said)
        ambiguous.append(f"“{said}” after an “or”: read as qualifying both sides; say it for each to be sure")
    parser = _Parser(_exclusions(_asides(items), text))
    tree = parser.parse()
    not_understood += parser.unread
    # Weak defaults ("new customers" = joined in 30 days) give way to a stated period.
    given_way = _give_way(tree, {id(a.node) for a in atoms if a.weak})
    notes = [a.note for a in atoms if a.note and id(a.node) not in given_way] + ambiguous + parser.notes
    typed = rule_lang.parse({"version": 1, "op": "and", "rules": [tree]})
    root = _root(_plain(rule_lang.simplify(typed)))
    dropped = _drop_contradictions(root)
    if dropped:
        # "in Pune who spent over 5k as well as Mumbai": no customer is in both cities, and
        # which grouping was meant is unclear, so the later one is reported, not guessed.
        not_understood += [_typed(tokens, starts, atoms, node) for node in dropped]
        if not root["rules"]:
            raise NotUnderstood("the prompt's conditions contradict each other")
    rule_lang.check(rule_lang.parse(root), catalog)  # our own output obeys the same contract
    return Parsed(root, not_understood, notes)


def spend_percentiles(prompt: str, catalog: Catalog) -> frozenset[int]:
    """The percentiles of total spend a prompt asks about beyond the 10th and 90th ("top 20%",
    "the median"), so the caller can compute them before `rules_from_text` reads it."""
    grammar = grammar_for(catalog)
    text = " ".join(t.text for t in w.tokenize(prompt[:MAX_PROMPT], grammar.vocabulary))
    found: set[int] = set()
    for pattern in grammar.patterns:
        if pattern.name == "spend_median" and pattern.regex.search(text):
            found.add(50)
        elif pattern.name == "spend_share":
            found.update(q for m in pattern.regex.finditer(text) if (q := _q(grammar.share_percentile(m))))
    return frozenset(found)


def _q(found: tuple[bool, int] | None) -> int | None:
    return None if found is None else found[1]


def _drop_contradictions(node: Node) -> list[Node]:
    """Remove, from each AND group, a condition that says a field equals something disjoint
    from what an earlier one says (no customer matches both); return what was removed."""
    dropped: list[Node] = []
    if "field" in node:
        return dropped
    for child in node["rules"]:
        dropped += _drop_contradictions(child)
    if node["op"] != "and" or node.get("not"):
        return dropped
    seen: dict[str, set[str]] = {}
    kept = []
    for child in node["rules"]:
        if "field" in child and child["cmp"] in ("eq", "in"):
            values = child["value"] if isinstance(child["value"], list) else [child["value"]]
            these = {str(v).lower() for v in values}
            if child["field"] in seen and not (seen[child["field"]] & these):
                dropped.append(child)
                continue
            seen[child["field"]] = these
        kept.append(child)
    # "no orders" beside a condition only a customer with an order meets ("no purchase activity
    # in 3 months" read as never ordered AND ordered in the last 90 days): nobody matches both.
    node["rules"], never, ordered = [], False, False
    for child in kept:
        if (_never_ordered(child) and ordered) or (_needs_an_order(child) and never):
            dropped.append(child)
            continue
        never, ordered = never or _never_ordered(child), ordered or _needs_an_order(child)
        node["rules"].append(child)
    return dropped


def _never_ordered(node: Node) -> bool:
    return node.get("field") == "order_count" and node["cmp"] == "eq" and node["value"] == 0


def _needs_an_order(node: Node) -> bool:
    field, cmp = node.get("field"), node.get("cmp")
    if field in ("last_order_at", "first_order_at"):
        return cmp in ("within_last_days", "after", "before", "between", "is_set")
    return field == "avg_order_value" and cmp != "is_not_set"


def _said(tokens: list[w.Token], starts: list[int], start: int, end: int) -> str:
    return " ".join(t.original or t.text for t, s in zip(tokens, starts, strict=True) if start <= s < end)


def _typed(tokens: list[w.Token], starts: list[int], atoms: list[Atom], node: Node) -> str:
    """The words of the prompt that gave a condition, as typed."""
    for atom in atoms:
        if atom.node == node:
            words = [
                t.original or t.text
                for t, s in zip(tokens, starts, strict=True)
                if atom.start <= s < atom.end
            ]
            return " ".join(words)
    return str(node.get("value"))


_NUMERIC_CMPS = frozenset({"gt", "gte", "lt", "lte", "between", "eq"})
_COUNTS = frozenset({"order_count"})
_AMOUNTS = frozenset({"total_spend", "avg_order_value"})


_VAGUE_DATES = frozenset({"created_at", "first_order_at", "last_order_at"})


def _periods(atoms: list[Atom], today: date) -> list[Atom]:
    """Give each period said on its own ("new customers from Delhi this month") to the vague
    date word it qualifies: the nearest condition before it (else after it), past places only,
    when that is a default ("new customers": joined in 30 days). Any other is dropped, so its
    words are reported as not understood."""
    out: list[Atom] = []
    for i, atom in enumerate(atoms):
        if atom.when is None:
            out.append(atom)
            continue
        target = _beside(atoms[i - 1 :: -1] if i else []) or _beside(atoms[i + 1 :], after=False)
        if target is None:
            continue
        name = next(iter(_fields(target.node)))
        kind, value = atom.when
        # A period beside a vague absence ("lapsed customers (60 days)") is its length.
        absent = target.weak and target.node.get("cmp") == "not_within_last_days"
        if kind in ("more", "less"):
            # "(> 60 days)" only for an absence, "(< 15 days)" only for recency
            if not target.weak or (kind == "more") != absent:
                continue
            kind = "days"
        if kind == "days":
            atom.node = _cond(name, "not_within_last_days" if absent else "within_last_days", value)
        elif absent or (name == "last_order_at" and value[1] < today):
            continue  # "recent buyers last month": some order then, which the last order can't tell
        else:
            atom.node = _range_node(name, "in", value, today)
        out.append(atom)
    return out


def _beside(atoms: list[Atom], *, after: bool = True) -> Atom | None:
    """The date condition a lone period qualifies: a vague default ("new customers") on either
    side, or, before it, a stated one on the same field ("ordered in the last 90 days but not in
    the last 30"), past places only."""
    for atom in atoms:
        if atom.cities:
            continue
        fields = _fields(atom.node) if atom.node else set()
        dated = len(fields) == 1 and fields <= _VAGUE_DATES and atom.when is None
        return atom if dated and (atom.weak or after) else None
    return None


def _complete(atoms: list[Atom]) -> list[Atom]:
    """Give each field-less comparison ("… or over 10k in Delhi") the field of the nearest
    comparison before it; one written as money with none before reads as total spend (noted);
    any other is dropped, so its words are reported as not understood."""
    out: list[Atom] = []
    for atom in atoms:
        if atom.pending is None:
            out.append(atom)
            continue
        field = next(
            (
                f
                for a in reversed(out)
                if (f := _compared_field(a.node))
                and not ((atom.money or _large(atom.pending)) and f in _COUNTS)
                and not (atom.times and f in _AMOUNTS)
            ),
            None,
        )
        if atom.inherit:
            # no comparator either: the one of the comparison just before, or nothing
            before = _last_compared(out)
            if field is None or before is None or before["field"] != field:
                continue  # reported as not understood
            atom.node = _cond(field, before["cmp"], atom.pending[1])
            out.append(atom)
            continue
        if field is None and atom.money:
            field = "total_spend"
            atom.note = "no field named for an amount: read as total spend"
        if field is not None:
            atom.node = _compared(field, atom.pending)
            out.append(atom)
    return out


def _large(pending: tuple[str, object]) -> bool:
    """'one-time buyers whose single order was over 5,000': no count runs into thousands, so
    such a number is money said without a field, not a count inherited from before."""
    values = pending[1] if isinstance(pending[1], list) else [pending[1]]
    return any(isinstance(v, int | float) and v >= 1000 for v in values)


def _last_compared(atoms: list[Atom]) -> Node | None:
    """The last plain comparison among the conditions so far."""
    for a in reversed(atoms):
        if "field" in a.node and a.node.get("cmp") in ("gt", "gte", "lt", "lte"):
            return a.node
    return None


def _compared_field(node: Node) -> str | None:
    if "field" in node:
        value = node.get("value")
        dated = isinstance(value, str) or (isinstance(value, list) and isinstance(value[0], str))
        return node["field"] if node["cmp"] in _NUMERIC_CMPS and not dated else None
    fields = {_compared_field(n) for n in node["rules"]}
    return fields.pop() if len(fields) == 1 else None


# Which way a date condition points: towards now ("in the last 30 days", "since March") or
# away from it ("not in the last 90 days", "before 2025").
_RECENT_SIDE = frozenset({"within_last_days", "after", "between"})
_OLD_SIDE = frozenset({"not_within_last_days", "before"})


def _side(node: Node) -> set[tuple[str, str]]:
    """(field, side) of each dated condition a node asks for; "not" turns a side round."""
    if "field" in node:
        cmp = node["cmp"]
        side = "recent" if cmp in _RECENT_SIDE else "old" if cmp in _OLD_SIDE else None
        return {(node["field"], side)} if side else set()
    found = set().union(*(_side(n) for n in node["rules"])) if node["rules"] else set()
    if node.get("not"):
        return {(f, "old" if s == "recent" else "recent") for f, s in found}
    return found


def _conjuncts(node: Node) -> list[tuple[Node, Node]]:
    """(parent, child) for each condition ANDed at this level: through plain AND groups, not
    into OR groups or negations."""
    out: list[tuple[Node, Node]] = []
    for child in node["rules"]:
        if "field" not in child and child["op"] == "and" and not child.get("not"):
            out += _conjuncts(child)
        else:
            out.append((node, child))
    return out


def _give_way(node: Node, weak: set[int]) -> set[int]:
    """Drop, from each AND group, a vague default ("recent buyers" = ordered in 30 days,
    "lapsed" = no order in 90) beside a stated condition on the same field that points the
    same way ("recent buyers (last 15 days)", "gone quiet, no orders in 8 weeks"); return the
    ids of the defaults dropped. Beside one pointing the other way both stay ("recent buyers
    who haven't ordered in 7 days" is a window), and across an "or" nothing is dropped."""
    dropped: set[int] = set()
    if "field" in node:
        return dropped
    if node["op"] == "and":
        pairs = _conjuncts(node)
        stated = [_side(child) for _, child in pairs if id(child) not in weak]
        for parent, child in pairs:
            sides = _side(child)
            if id(child) in weak and len(sides) == 1 and any(sides == s for s in stated):
                parent["rules"] = [n for n in parent["rules"] if n is not child]
                dropped.add(id(child))
    for child in node["rules"]:
        dropped |= _give_way(child, weak)
    return dropped


def _fields(node: Node) -> set[str]:
    if "field" in node:
        return {node["field"]}
    return set().union(*(_fields(n) for n in node["rules"])) if node["rules"] else set()


Item = Atom | str


def _stream(tokens: list[w.Token], starts: list[int], atoms: list[Atom]) -> tuple[list[Item], list[str]]:
    """Atoms and connectives in order, and the runs of words nobody understood."""
    items: list[Item] = []
    unknown: list[str] = []
    run: list[str] = []

    pending: list[str] = []

    def flush() -> None:
        pending.clear()
        if run:
            unknown.append(" ".join(run))
            run.clear()

    i, a = 0, 0
    while i < len(tokens):
        if a < len(atoms) and starts[i] >= atoms[a].start:
            flush()
            items.append(atoms[a])
            while i < len(tokens) and starts[i] < atoms[a].end:
                i += 1
            a += 1
            continue
        word = tokens[i].text
        union = _union_at(tokens, i)
        if union and not (a < len(atoms) and starts[i + union[0] - 1] >= atoms[a].start):
            flush()
            items.append(union[1])
            i += union[0]
            continue
        matched = False
        for phrase, kinds in CONNECTIVE_PHRASES.items():
            if tuple(t.text for t in tokens[i : i + len(phrase)]) == phrase and not (
                a < len(atoms)
                and i + len(phrase) - 1 < len(tokens)
                and starts[i + len(phrase) - 1] >= atoms[a].start
            ):
                flush()
                items.extend(kinds.split())
                i += len(phrase)
                matched = True
                break
        if matched:
            continue
        two = f"{word} {tokens[i + 1].text}" if i + 1 < len(tokens) else ""
        if two in FILLER_PHRASES:
            i += 2
            continue
        if word not in _GLUE and word in FILLER:
            pending.clear()
        if word in CONNECTIVES:
            flush()
            items.append(CONNECTIVES[word])
        elif word not in FILLER:
            run.extend(pending)
            pending.clear()
            run.append(tokens[i].original or word)
        elif word in _GLUE:
            pending.append(tokens[i].original or word)  # keep "in the last 3 months" whole
            i += 1
            continue
        else:
            flush()
        i += 1
    flush()
    return items, [u for u in unknown if any(ch.isalnum() for ch in u)]


def _union_at(tokens: list[w.Token], i: int) -> tuple[int, str] | None:
    """How many tokens from i join two groups of people, and how: "ANYONE" for a joiner and a
    word that opens a new group ("or anyone", "plus all"), "UNION" for "plus" / "as well as"
    between noun groups, None otherwise (a plain joiner, or "as well as" inside a "who …")."""
    texts = [t.text for t in tokens[i : i + 5]]
    for joiner in GROUP_JOINERS:
        n = len(joiner)
        if tuple(texts[:n]) != joiner:
            continue
        rest = texts[n:]
        if (
            rest
            and rest[0] in GROUP_OPENERS
            and (rest[0] != "all" or joiner in UNION_JOINERS or joiner[-1] == "or")
            and (len(rest) < 2 or rest[1] not in ("but", "except", "else"))
        ):
            return n + 1, "ANYONE"
        if joiner in UNION_JOINERS and not any(t.text in RELATIVE_WORDS for t in tokens[:i]):
            return n, "UNION"
        return None
    return None


_GLUE = frozenset(("in", "at", "on", "from", "of", "for", "the", "a", "an", "to", "by"))
_JOINERS = {"AND", "OR", "COMMA"}


def _nor(items: list[Item]) -> list[Item]:
    """'neither A nor B' is not (A or B): there "nor" is an "or" under the "neither". Without a
    "neither" in its clause, "nor" is "and not": "not VIP nor platinum" is neither of them."""
    out: list[Item] = []
    for item in items:
        if item != "NOR":
            out.append(item)
            continue
        before = next((x for x in reversed(out) if x in ("NEITHER", "BREAK", "COMMA")), None)
        out.extend(["OR"] if before == "NEITHER" else ["AND", "NOT"])
    return out


def _merge_places(items: list[Item]) -> list[Item]:
    """'in Mumbai, Pune or Delhi' -> one condition: city in [Mumbai, Pune, Delhi]. So are two
    places joined by a clause word ("in Pune as well as Mumbai", "plus those in Delhi"): no
    customer lives in both."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, Atom) and item.cities:
            j = len(out) - 1
            while j >= 0 and isinstance(out[j], str) and out[j] in _JOINERS | {"BREAK", "UNION"}:
                j -= 1
            prev = out[j] if j >= 0 else None
            if (
                isinstance(prev, Atom)
                and prev.cities
                and j < len(out) - 1
                and (item.bare or item.negated == prev.negated)
            ):
                values = tuple(dict.fromkeys(prev.cities + item.cities))
                merged = Atom(prev.start, item.end, {}, cities=values, negated=prev.negated)
                merged.node = _cond("city", "not_in" if prev.negated else "in", list(values))
                out[j:] = [merged]
                continue
        out.append(item)
    return out


def _lists(items: list[Item]) -> list[Item]:
    """'VIPs, gold tier customers, and anyone in Kochi': a list that ends in a new group is a
    list of groups, so its commas join them as the last joiner does (a union)."""
    out = list(items)
    for k, item in enumerate(items):
        if item != "ANYONE":
            continue
        j = k - 1
        while j >= 0 and (isinstance(out[j], Atom) or out[j] in ("COMMA", "AND", "OR")):
            if out[j] == "COMMA":
                out[j] = "ANYONE"
            j -= 1
    return out


def _neither(items: list[Item], text: str) -> list[Item]:
    """'not VIP or gold': one "not" before two statuses joined by a bare "or" denies both, as
    "neither VIP nor gold" does. With a verb or a "not" of its own on the right ("not VIP or
    spent over 5k", "not gold or not VIP"), or after "either", the "not" keeps to its own."""
    out = list(items)
    for k in range(len(out) - 3):
        a, joiner, b = out[k + 1], out[k + 2], out[k + 3]
        if (
            out[k] == "NOT"
            and (k == 0 or out[k - 1] != "EITHER")
            and isinstance(a, Atom)
            and joiner == "OR"
            and isinstance(b, Atom)
            and text[a.end : b.start].strip() == "or"
            and _status(a)
            and _status(b)
        ):
            out[k + 1 : k + 4] = ["LP", a, "OR", b, "RP"]
            break
    return out


def _trailing(items: list[Item], text: str) -> list[Atom]:
    """'VIPs or big spenders in Delhi': a condition right after the second of two groups joined
    by a bare "or" may qualify that group or both, so it is reported. Not when the groups are
    one field ("named Dev or Kabir in Pune"), when a noun closes the pair first ("vip or gold
    tier customers in Mumbai": the place is the customers'), nor when the first group has
    its own qualifier ("VIPs in Delhi or big spenders in Noida", "… who spent over 5k or …")."""
    found = []
    for k in range(1, len(items) - 2):
        a, joiner, b, then = items[k - 1], items[k], items[k + 1], items[k + 2]
        if not (joiner == "OR" and isinstance(a, Atom) and isinstance(b, Atom) and isinstance(then, Atom)):
            continue
        before = items[k - 2] if k >= 2 else None
        if (
            not isinstance(before, Atom)
            and before not in ("AND", "BREAK")
            and text[a.end : b.start].strip() == "or"
            and not text[b.end : then.start].strip()
            and text[b.start : b.end].split()[-1] not in _PEOPLE
            and _fields(a.node) != _fields(b.node)
        ):
            found.append(then)
    return found


_PEOPLE = frozenset(
    (
        "customers",
        "customer",
        "people",
        "users",
        "clients",
        "shoppers",
        "buyers",
        "folks",
        "members",
        "contacts",
    )
)


def _status(atom: Atom) -> bool:
    """A condition said as a status word ("VIP", "gold", "opted in"), not a verb or amount."""
    node = atom.node
    return str(node.get("field", "")).startswith("attributes.") and node["cmp"] in ("eq", "in")


def _asides(items: list[Item]) -> list[Item]:
    """'Pune (spent > 5k) or Delhi (spent > 10k)': brackets right after a condition, holding
    no "or", qualify it like any modifier beside it; they group nothing, so they go."""
    out = list(items)
    i = 0
    while i < len(out):
        if out[i] == "LP" and i and isinstance(out[i - 1], Atom):
            j = i + 1
            while j < len(out) and out[j] not in ("LP", "RP", "OR"):
                j += 1
            if j < len(out) and out[j] == "RP":
                del out[j]
                del out[i]
                continue
        i += 1
    return out


def _exclusions(items: list[Item], text: str) -> list[Item]:
    """'except VIPs, gold tier and platinum tier': a list after except / excluding / other than
    names each group left out, so it is one NOT over their OR ("excluding Mumbai and Delhi"
    merges as places already). A group is a run of conditions side by side ("except Pune VIPs
    and Delhi big spenders", "everyone except VIPs in Pune"): the "except" leaves out the
    people who are all of it, not everyone who is any of it. Only a list that ends in and/or
    counts; "except those who …" describes one group and keeps its "and", and so does "except
    the people in Kochi who never ordered": a head noun then "who" ties the clause to it."""
    out: list[Item] = []
    i = 0
    while i < len(items):
        item = items[i]
        out.append(item)
        i += 1
        if item != "WIDE_NOT" or i >= len(items) or not isinstance(items[i], Atom):
            continue
        first, j = _side_by_side(items, i)
        described = _described(items, i, j, text)
        if described:
            out.extend(["LP", *described, "RP"])
            i += len(described)
            continue
        members, closed = [first], False
        while j < len(items) and not closed:
            k = j
            joiners = []
            while k < len(items) and items[k] in ("COMMA", "AND", "OR"):
                joiners.append(items[k])
                k += 1
            if not joiners or k >= len(items) or not isinstance(items[k], Atom):
                break
            member, k = _side_by_side(items, k)
            members.append(member)
            closed = "AND" in joiners or "OR" in joiners
            j = k
        if closed and len(members) >= 2:
            group: list[Item] = ["LP"]
            for n, member in enumerate(members):
                group.extend(["OR", *_grouped(member)] if n else _grouped(member))
            out.extend([*group, "RP"])
            i = j
        elif len(first) >= 2:
            out.extend(_grouped(first))
            i += len(first)
    return out


_EXCEPT_WORDS = frozenset(
    ("except", "excluding", "exclude", "excl", "minus", "besides", "but", "than", "from", "out")
)
_HEADS = _PEOPLE | {"those", "ones", "person", "guys"}
_RELATIVES = frozenset(("who", "whom", "that", "whose"))


def _described(items: list[Item], i: int, j: int, text: str) -> list[Item]:
    """The items from i of "except the people in Kochi who never ordered": a head noun ("the
    people", "those", "the ones") after the except word, its conditions, then a "who" clause
    up to a comma or clause word. Empty when the exclusion is not said that way ("except VIPs
    who …" keeps its clause for everyone, as written before)."""
    if j >= len(items) or items[j] != "BREAK" or j + 1 >= len(items):
        return []
    first, last, nxt = items[i], items[j - 1], items[j + 1]
    if not (isinstance(first, Atom) and isinstance(last, Atom) and isinstance(nxt, Atom)):
        return []
    before = text[: first.start].split()
    cut = max((n for n, word in enumerate(before) if word in _EXCEPT_WORDS), default=None)
    if cut is None or not _HEADS & set(before[cut + 1 :]):
        return []
    if not _RELATIVES & set(text[last.end : nxt.start].split()):
        return []
    k = j + 1
    while k < len(items) and (isinstance(items[k], Atom) or items[k] in ("AND", "OR", "NOT")):
        k += 1
    return items[i:k]


def _side_by_side(items: list[Item], i: int) -> tuple[list[Item], int]:
    """The run of conditions from items[i] with no word between them, and where it ends."""
    run: list[Item] = []
    while i < len(items) and isinstance(items[i], Atom):
        run.append(items[i])
        i += 1
    return run, i


def _grouped(run: list[Item]) -> list[Item]:
    return ["LP", *run, "RP"] if len(run) >= 2 else run


class _Parser:
    """Recursive descent over atoms and connectives (see the module docstring for precedence)."""

    def __init__(self, items: list[Item]) -> None:
        self.items = _distribute(self._tidy(items))
        self.pos = 0
        self.unread: list[str] = []  # words read but not applied ("but not both" after no "or")
        self.notes: list[str] = []
        self.said_and: set[int] = set()  # groups joined by a written "and" (not side by side)

    @staticmethod
    def _tidy(items: list[Item]) -> list[str | Atom]:
        """Collapse each run of joiners into one: any OR makes it an OR, a comma or clause
        word makes it a clause boundary; drop joiners that join nothing."""
        out: list[str | Atom] = []
        run: list[str] = []
        for item in [*items, "END"]:
            if isinstance(item, str) and item in ("AND", "OR", "COMMA", "BREAK", "UNION", "ANYONE"):
                run.append(item)
                continue
            if (
                not run
                and out
                and (isinstance(out[-1], Atom) or out[-1] == "RP")
                and (
                    isinstance(item, Atom)
                    or item in ("NOT", "WIDE_NOT", "NOTBOTH", "EITHER", "NEITHER", "LP")
                )
            ):
                # "vip or gold tier customers in Mumbai": modifiers side by side qualify the
                # whole phrase, so they join like a clause, not like a tight "and".
                run = ["BREAK"]
            if run:
                starts_clause = not out or (
                    isinstance(out[-1], str)
                    and out[-1] in ("NOT", "WIDE_NOT", "NOTBOTH", "EITHER", "NEITHER", "LP")
                )
                if not starts_clause and item not in ("END", "RP"):
                    loose = "COMMA" in run or "BREAK" in run
                    if "UNION" in run or "ANYONE" in run:
                        out.append("ORBREAK")
                    elif "OR" in run:
                        out.append("ORBREAK" if loose else "OR")
                    else:
                        out.append("BREAK" if loose else "AND")
                run = []
            if item != "END":
                out.append(item)
        return out

    def peek(self) -> str | Atom | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self) -> str | Atom | None:
        item = self.peek()
        self.pos += 1
        return item

    def parse(self) -> Node:
        nodes = []
        while self.peek() is not None:
            nodes.append(self.or_clauses())
            if self.peek() == "RP":  # an unmatched ")"
                self.take()
        return _and(*nodes) if len(nodes) != 1 else nodes[0]

    def or_clauses(self) -> Node:
        nodes = [self.clauses()]
        while self.peek() == "ORBREAK":
            self.take()
            nodes.append(self.clauses())
        return nodes[0] if len(nodes) == 1 else {"op": "or", "rules": nodes}

    def clauses(self) -> Node:
        nodes = [self.disjunction()]
        while True:
            # "… but not both" with nothing after it: about the "or" just read
            skip = 1 if self.peek() == "BREAK" else 0
            at = self.pos + skip
            if at < len(self.items) and self.items[at] == "NOTBOTH" and self._ends(at + 1):
                self.pos = at + 1
                nodes[-1] = self._xor(nodes[-1])
                continue
            if self.peek() != "BREAK":
                break
            self.take()
            nodes.append(self.disjunction())
        return nodes[0] if len(nodes) == 1 else _and(*nodes)

    def _ends(self, at: int) -> bool:
        return at >= len(self.items) or self.items[at] in ("RP", "BREAK", "ORBREAK")

    def _xor(self, node: Node) -> Node:
        """'VIP or opted in but not both': one of the two, not both."""
        if node.get("op") != "or" or node.get("not") or len(node["rules"]) != 2:
            self.unread.append("not both")
            return node
        a, b = node["rules"]
        return {"op": "or", "rules": [_and(a, _not(copy.deepcopy(b))), _and(_not(copy.deepcopy(a)), b)]}

    def disjunction(self) -> Node:
        nodes = [self.conjunction()]
        while self.peek() == "OR":
            self.take()
            nodes.append(self.conjunction())
        if len(nodes) > 1 and any(id(n) in self.said_and for n in nodes):
            # "spent over 5k and ordered in 30 days or VIP": with no comma, bracket or
            # "either", which of "and" and "or" binds first is a guess; reported, not made
            self.unread.append("and … or")
            self.notes.append(
                "“and” and “or” with no comma or brackets: read “and” first; group them to be sure"
            )
        return nodes[0] if len(nodes) == 1 else {"op": "or", "rules": nodes}

    def conjunction(self) -> Node:
        nodes = [self.unary()]
        said = False
        while True:
            nxt = self.peek()
            if nxt == "AND":
                said = True
                self.take()
            elif not (isinstance(nxt, Atom) or nxt in ("NOT", "WIDE_NOT", "EITHER", "NEITHER", "LP")):
                break
            nodes.append(self.unary())
        if len(nodes) == 1:
            return nodes[0]
        node = _and(*nodes)
        if said:
            self.said_and.add(id(node))
        return node

    def unary(self) -> Node:
        item = self.take()
        if item is None or item in ("RP", "OR", "ORBREAK", "BREAK", "AND"):
            return _and()  # a dangling "not" or "either": matches everyone, simplified away
        if isinstance(item, Atom):
            return item.node
        if item == "NOT":
            return _not(self.unary())
        if item in ("WIDE_NOT", "NOTBOTH"):
            return _not(self.disjunction())
        if item == "EITHER":
            return self.disjunction()
        if item == "NEITHER":
            # "neither A nor B and C": the "neither" covers A and B only
            nodes = [self.unary()]
            while self.peek() in ("OR", "ORBREAK"):
                self.take()
                nodes.append(self.unary())
            return _not(nodes[0] if len(nodes) == 1 else {"op": "or", "rules": nodes})
        # "(": everything up to the matching ")"
        inner = self.or_clauses()
        self.said_and.discard(id(inner))  # brackets say how it groups
        if self.peek() == "RP":
            self.take()
        return inner


def _distribute(items: list[str | Atom]) -> list[str | Atom]:
    """'over 5k in Mumbai or over 10k in Delhi': when the runs of conditions either side of a
    tight OR name the same fields, the OR is between the whole runs, not the two nearest. So is
    it when both runs hold two or more conditions and share a field ('VIPs in Delhi or gold
    tier in Mumbai', 'spent over 5k in Mumbai or ordered 3 times in Pune'): an OR between two
    unrelated fields in the middle of two stacks of modifiers is not what anyone means."""
    out = list(items)
    for i, item in enumerate(items):
        if item == "OR":
            left, right = _run(items, i, -1), _run(items, i, 1)
            same = sorted(left) == sorted(right)
            shared = {f for fs in left for f in fs} & {f for fs in right for f in fs}
            if len(left) >= 2 and (same or (len(right) >= 2 and shared)):
                out[i] = "ORBREAK"
        elif item in ("AND", "BREAK") and _exclusive(_run_atoms(out, i, -1), _run_atoms(out, i, 1)):
            # "customers in Pune with 3+ orders and customers in Mumbai with 5+ orders": two
            # groups that no customer can be in at once are a union, as people mean it.
            out[i] = "ORBREAK"
    return out


def _run_atoms(items: list[str | Atom], i: int, step: int) -> list[Atom]:
    found: list[Atom] = []
    j = i + step
    while 0 <= j < len(items):
        item = items[j]
        if isinstance(item, Atom):
            found.append(item)
        elif item not in ("AND", "BREAK"):
            break
        j += step
    return found


def _values(run: list[Atom]) -> dict[str, set[str]] | None:
    """Field -> the values a run of conditions says it equals, or None when the run names
    one field twice (it is not one group then)."""
    out: dict[str, set[str]] = {}
    for atom in run:
        node = atom.node
        if "field" not in node or node["cmp"] not in ("eq", "in"):
            continue
        if node["field"] in out:
            return None
        values = node["value"] if isinstance(node["value"], list) else [node["value"]]
        out[node["field"]] = {str(v).lower() for v in values}
    return out


def _exclusive(left: list[Atom], right: list[Atom]) -> bool:
    if not ((len(left) >= 2 and len(right) >= 2) or (len(left) == 1 and len(right) == 1)):
        return False
    mine, theirs = _values(left), _values(right)
    if mine is None or theirs is None:
        return False
    return any(not (mine[f] & theirs[f]) for f in mine.keys() & theirs.keys())


def _run(items: list[str | Atom], i: int, step: int) -> list[tuple[str, ...]]:
    fields: list[tuple[str, ...]] = []
    j = i + step
    while 0 <= j < len(items):
        item = items[j]
        if isinstance(item, Atom):
            fields.append(tuple(sorted(_fields(item.node))))
        elif item not in ("AND", "BREAK", "NOT"):
            break  # a negated condition stays in its run ("VIPs in Mumbai or non-VIPs in Delhi")
        j += step
    return fields


def _not(node: Node) -> Node:
    # Negation is left to `rule_lang.simplify`, which pushes it into a comparator when exact.
    return {"op": "and", "not": True, "rules": [node]}


def _plain(node: rule_lang.Rule) -> Node:
    """A typed node back to the JSON shape: `not` only when set, no value where none is taken."""
    if isinstance(node, rule_lang.Condition):
        return _cond(node.field, node.cmp, node.value)
    out: Node = {"op": node.op, "rules": [_plain(c) for c in node.rules]}
    if node.negate:
        out["not"] = True
    return out


def _root(node: Node) -> Node:
    if "field" in node or node.get("not"):
        return {"version": 1, "op": "and", "rules": [node]}
    return {"version": 1, "op": node["op"], "rules": node["rules"]}
