"""The offline engine: plain words to a rule tree, deterministically, with no network.

How it reads a prompt:

1. Normalise it into lowercase tokens (`words.tokenize`: contractions, ranges, small typos).
2. Find *atoms*, the phrases that are one condition each ("spent more than ₹5k",
   "haven't ordered in 3 months", "in Mumbai"), by trying patterns in priority order; a
   matched span is masked so a later pattern cannot reuse its words.
3. Read the words between atoms as connectives (and, or, commas, "but", "who", "either",
   "not", "except", brackets); any other word that is not filler is *not understood* and
   reported, never silently dropped.
4. Build the tree with the precedence people mean: commas, "but", "who", "and also" join
   clauses loosest; inside a clause OR is looser than AND; "either … or …" and brackets
   group; ", or" is an OR between whole clauses. Place names joined by and/or/commas become
   one list ("in Mumbai and Pune" means either city).

Nothing here guesses a number it was not given: a vague word ("lapsed", "new") with no
period gets a stated default, recorded in `notes`, and a prompt with no condition at all is
refused.

The package: `lexicon` (words and verb forms), `quantities` (comparisons with values),
`atoms` (the conditions patterns produce), `grammar` (the patterns per catalog), `parser`
(connectives and precedence, the tree). The tree algebra (negate, simplify) belongs to the
rule language itself: `segments.rules`.
"""

from pulsecrm.ai.offline.engine import OfflineEngine
from pulsecrm.ai.offline.parser import MAX_PROMPT, NotUnderstood, Parsed, rules_from_text, spend_percentiles

__all__ = ["MAX_PROMPT", "NotUnderstood", "OfflineEngine", "Parsed", "rules_from_text", "spend_percentiles"]
